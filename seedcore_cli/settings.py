"""Where Ray is and which namespace: one resolver, flags > environment > .env > defaults.

Every resolved value remembers where it came from, so errors, `-v` and `diagnose` can say
"from RAY_ADDRESS" or "from .env (/path/.env)". Nothing here imports ray.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from seedcore_cli.errors import SettingsError

DEFAULT_NAMESPACE = "seedcore-dev"
DEFAULT_CLIENT_PORT = 10001
DEFAULT_GCS_PORT = 6379
DEFAULT_DASHBOARD_PORT = 8265

# Variables this tool reads; only these are taken from a .env file.
ENV_KEYS = ("RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_HOST", "RAY_PORT")

# Ray's namespace names: printable, no whitespace; keep them short and simple.
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Sourced:
    """A setting's value and where it came from: the caller's label for an explicit value (the
    CLI's flag), 'RAY_ADDRESS', '.env (path)', 'default'."""

    value: str
    source: str


@dataclass(frozen=True)
class Target:
    """A parsed Ray address.

    kind: 'auto' (Ray finds the running cluster), 'gcs' (driver to HOST:PORT),
    'client' (Ray Client ray://HOST:PORT), 'local' (seedcore's embedded loopback cluster),
    'default' (nothing configured: local cluster if running, else auto).
    """

    kind: str
    raw: str
    host: str = ""
    port: int = 0

    @property
    def endpoint(self) -> str:
        if not self.host:
            return self.raw
        host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6 literal
        return f"{host}:{self.port}"



@dataclass(frozen=True)
class Settings:
    address: Sourced | None
    namespace: Sourced
    target: Target
    env_file: Path | None = None
    env_file_keys: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_port(text: str, what: str, source: str) -> int:
    if not re.fullmatch(r"[0-9]+", text.strip()):  # ASCII digits only ('²'.isdigit() is True)
        raise SettingsError(
            f"{what} port {text!r} (from {source}) is not a number",
            "use a port between 1 and 65535",
        )
    port = int(text)
    if not 1 <= port <= 65535:
        raise SettingsError(
            f"{what} port {port} (from {source}) is out of range",
            "use a port between 1 and 65535",
        )
    return port


def parse_address(address: Sourced) -> Target:
    """Parse `auto`, `local`, `HOST:PORT` or `ray://HOST:PORT`; raise SettingsError naming the source."""
    raw = address.value.strip()
    where = f"address {address.value!r} (from {address.source})"
    if raw in ("auto", "local"):
        return Target(kind=raw, raw=raw)
    if not raw:
        raise SettingsError(f"{where} is empty", "use auto, local, HOST:PORT or ray://HOST:PORT")
    kind = "gcs"
    scheme, host, port_text = split_url(raw)
    if scheme:
        if scheme != "ray":
            raise SettingsError(
                f"{where} has unknown scheme {scheme + '://'!r}",
                "use ray://HOST:PORT for Ray Client or HOST:PORT for a GCS address",
            )
        kind = "client"
    if not host:
        raise SettingsError(f"{where} has an empty host", "use HOST:PORT, e.g. 127.0.0.1:6379")
    if not _HOST_RE.match(host) and not _is_ip(host):
        raise SettingsError(f"{where} has an invalid host {host!r}", "use a hostname or an IP address")
    if not port_text:
        port = DEFAULT_CLIENT_PORT if kind == "client" else DEFAULT_GCS_PORT
    else:
        port = parse_port(port_text, "address", address.source)
    return Target(kind=kind, raw=raw, host=host, port=port)


def split_url(text: str) -> tuple[str, str, str]:
    """(scheme, host, port text) of 'HOST:PORT', 'ray://HOST:PORT', 'http://HOST:PORT/path'; IPv6
    hosts in brackets; '' for what is absent. The one address parser: no validation here."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    hostport = rest.split("/", 1)[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or host.endswith(":") or (host.count(":") and not host.startswith("[")):
        host, port = hostport, ""  # no port (or an unbracketed IPv6 literal)
    return scheme, host.strip("[]"), port


def split_address(address: str) -> tuple[str, int]:
    """('host', port) of an address already validated (parse_address) or reported by Ray."""
    _, host, port = split_url(address)
    return host, int(port)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def validate_namespace(namespace: Sourced) -> Sourced:
    if not namespace.value.strip():
        raise SettingsError(
            f"namespace {namespace.value!r} (from {namespace.source}) is empty",
            "set a namespace such as seedcore-dev",
        )
    if not _NAMESPACE_RE.match(namespace.value):
        raise SettingsError(
            f"namespace {namespace.value!r} (from {namespace.source}) is invalid",
            "use letters, digits, '-', '_', '.', ':' only, at most 128 characters",
        )
    return namespace


def read_env_file(env_file: Path | None, cwd: Path | None = None,
                  labels: Mapping[str, str] | None = None) -> tuple[Path | None, dict[str, str]]:
    """Read the explicit .env file (must exist) or ./.env (optional). Returns (path, values)."""
    labels = labels or {}
    from dotenv import dotenv_values  # small; only needed when resolving

    if env_file is not None:
        if not env_file.is_file():
            raise SettingsError(
                f"env file {str(env_file)!r} (from {labels.get('env_file', 'argument')}) does not exist",
                "pass an existing file, or none to read ./.env",
            )
        path = env_file
    else:
        candidate = (cwd or Path.cwd()) / ".env"
        if not candidate.is_file():
            return None, {}
        path = candidate
    try:
        values = {k: v for k, v in dotenv_values(path, encoding="utf-8").items() if v is not None}
    except (OSError, UnicodeDecodeError) as err:
        origin = labels.get("env_file", "argument") if env_file is not None else "the working directory"
        raise SettingsError(f"env file {str(path)!r} (from {origin}) cannot be read: {err}",
                            "save it as UTF-8 text, or use another file") from err
    return path, values


def resolve(
    address: str | None = None,
    namespace: str | None = None,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    labels: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve address and namespace: explicit values > process environment > .env file > defaults.

    labels: how messages name the explicit values' origin (the CLI passes its flags' names);
    default "argument"."""
    labels = labels or {}
    environ = os.environ if environ is None else environ
    path, file_values = read_env_file(env_file, cwd, labels)
    file_label = f".env ({path})" if path else ".env"

    def lookup(key: str) -> Sourced | None:
        if key in environ:
            return Sourced(environ[key], key)
        if key in file_values:
            return Sourced(file_values[key], f"{key} in {file_label}")
        return None

    warnings: list[str] = []

    # Address: explicit > RAY_ADDRESS > RAY_HOST(+RAY_PORT) as ray:// > default.
    addr: Sourced | None
    if address is not None:
        addr = Sourced(address, labels.get("address", "argument"))
    else:
        addr = lookup("RAY_ADDRESS")
        if addr is not None and addr.value == "":
            addr = None  # Ray itself treats an empty RAY_ADDRESS as unset
        if addr is None:
            host = lookup("RAY_HOST")
            if host is not None:
                port = lookup("RAY_PORT")
                port_text = port.value if port else str(DEFAULT_CLIENT_PORT)
                if port is not None:
                    parse_port(port.value, "RAY_PORT", port.source)
                source = host.source + (f" + {port.source}" if port else "")
                addr = Sourced(f"ray://{host.value}:{port_text}", source)
    target = parse_address(addr) if addr is not None else Target(kind="default", raw="")

    # Namespace: explicit > SEEDCORE_NS > RAY_NAMESPACE > default.
    if namespace is not None:
        ns = Sourced(namespace, labels.get("namespace", "argument"))
    else:
        seed_ns, ray_ns = lookup("SEEDCORE_NS"), lookup("RAY_NAMESPACE")
        if seed_ns and ray_ns and seed_ns.value != ray_ns.value:
            warnings.append(
                f"SEEDCORE_NS={seed_ns.value!r} and RAY_NAMESPACE={ray_ns.value!r} differ; "
                f"using SEEDCORE_NS ({seed_ns.source})"
            )
        ns = seed_ns or ray_ns or Sourced(DEFAULT_NAMESPACE, "default")
    validate_namespace(ns)

    return Settings(
        address=addr,
        namespace=ns,
        target=target,
        env_file=path,
        env_file_keys=tuple(sorted(file_values)),
        warnings=tuple(warnings),
    )
