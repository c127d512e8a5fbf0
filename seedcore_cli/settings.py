"""Where Ray is and which namespace: one resolver, flags > environment > .env > defaults.

Every resolved value remembers where it came from, so errors, `-v` and `diagnose` can say
"from RAY_ADDRESS" or "from .env (/path/.env)". Nothing here imports ray.
"""

from __future__ import annotations

import io
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from seedcore_cli import paths as pathkind
from seedcore_cli.errors import SettingsError, Word, quoted

DEFAULT_NAMESPACE = "seedcore-dev"
DEFAULT_CLIENT_PORT = 10001
DEFAULT_GCS_PORT = 6379
DEFAULT_DASHBOARD_PORT = 8265

# Variables this tool reads; only these are taken from a .env file.
ENV_KEYS = ("RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_HOST", "RAY_PORT")

# Ray's namespace names: printable, no whitespace; keep them short and simple.
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
# Ray gives a driver that calls ray.init without namespace= a random UUID namespace of its own.
_ANONYMOUS_NAMESPACE_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class ConnectionMode(Word):
    """How connect() attaches to a cluster; the value is what `info` and diagnose show."""

    DRIVER = "driver"  # a driver attached to a GCS address (HOST:PORT or auto)
    CLIENT = "client"  # Ray Client (ray://HOST:PORT)
    LOCAL = "local"  # a driver attached to seedcore's embedded loopback cluster


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
            f"{what} port {quoted(text)} (from {source}) is not a number",
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
    where = f"address {quoted(address.value)} (from {address.source})"
    if raw in ("auto", "local"):
        return Target(kind=raw, raw=raw)
    if not raw:
        raise SettingsError(f"{where} is empty", "use auto, local, HOST:PORT or ray://HOST:PORT")
    kind = "gcs"
    scheme, host, port_text = split_url(raw)
    if scheme:
        if scheme != "ray":
            raise SettingsError(
                f"{where} has unknown scheme {quoted(scheme + '://')}",
                "use ray://HOST:PORT for Ray Client or HOST:PORT for a GCS address",
            )
        kind = "client"
    if not host:
        raise SettingsError(f"{where} has an empty host", "use HOST:PORT, e.g. 127.0.0.1:6379")
    if not _HOST_RE.match(host) and not _is_ip(host):
        raise SettingsError(f"{where} has an invalid host {quoted(host)}", "use a hostname or an IP address")
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


def http_url(address: str) -> str:
    """A dashboard address as Ray records or a user gives it (HOST:PORT, or already a URL) as a
    base URL without a trailing slash; '' stays ''."""
    address = address.strip()
    if address and "://" not in address:
        address = f"http://{address}"
    return address.rstrip("/")


def is_anonymous_namespace(namespace: str) -> bool:
    """Whether `namespace` is one Ray made up for a ray.init without namespace= (a UUID)."""
    return bool(_ANONYMOUS_NAMESPACE_RE.match(namespace))


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
            f"namespace {quoted(namespace.value)} (from {namespace.source}) is empty",
            "set a namespace such as seedcore-dev",
        )
    if not _NAMESPACE_RE.match(namespace.value):
        raise SettingsError(
            f"namespace {quoted(namespace.value)} (from {namespace.source}) is invalid",
            "use letters, digits, '-', '_', '.', ':' only, at most 128 characters",
        )
    return namespace


def read_env_file(env_file: Path | None, cwd: Path | None = None,
                  labels: Mapping[str, str] | None = None) -> tuple[Path | None, dict[str, str]]:
    """Read the explicit .env file (must exist) or ./.env (optional). Returns (path, values).

    Strict: a line that is not KEY=VALUE (`export KEY=VALUE`, quotes, comments and blank lines
    are fine) rejects the whole file (SettingsError naming the line), where python-dotenv would
    only warn and drop the setting."""
    labels = labels or {}
    if env_file is not None:
        origin = labels.get("env_file", "argument")
        found = pathkind.kind(env_file)
        if found != pathkind.FILE:
            raise SettingsError(f"env file {quoted(str(env_file))} (from {origin}) {pathkind.phrase(found)}",
                                "pass an existing file, or none to read ./.env")
        path = env_file
    else:
        origin = "the working directory"
        candidate = (cwd or Path.cwd()) / ".env"
        if pathkind.kind(candidate) != pathkind.FILE:
            return None, {}
        path = candidate
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else str(err)
        raise SettingsError(f"env file {quoted(str(path))} (from {origin}) cannot be read: {reason}",
                            "save it as UTF-8 text, or use another file") from err
    return path, parse_env_text(text, f"env file {quoted(str(path))} (from {origin})")


_KEY_PREFIX = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=")


def parse_env_text(text: str, where: str) -> dict[str, str]:
    """The KEY=VALUE pairs of .env text, by python-dotenv's own parser; SettingsError for the
    first line it cannot parse. A bad line's value is never echoed (it may hold a token)."""
    from dotenv import dotenv_values  # small; only needed when resolving
    from dotenv.parser import parse_stream

    bad = []
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            raw = binding.original.string
            stripped = raw.lstrip()
            line = binding.original.line + raw[: len(raw) - len(stripped)].count("\n")
            bad.append((line, _env_line_problem(binding.key, stripped)))
    if bad:
        (line, problem), more = bad[0], len(bad) - 1
        raise SettingsError(
            f"{where} line {line}: {problem}" + (f" ({more} more bad line(s))" if more else ""),
            "write KEY=VALUE (or export KEY=VALUE; # starts a comment; close every quote); "
            "nothing in the file was used")
    values = dotenv_values(stream=io.StringIO(text))
    return {k: v for k, v in values.items() if v is not None}


def _env_line_problem(key: str | None, line: str) -> str:
    if key is not None:
        return f"{quoted(key, 40)} has no '=' and no value"
    named = _KEY_PREFIX.match(line)
    if named:
        return f"the value of {quoted(named.group(1), 40)} cannot be parsed (an unclosed quote, or text after the closing quote)"
    if line.startswith("="):
        return "no key before '='"
    return "not KEY=VALUE" + ("" if "=" in line.split("\n", 1)[0] else " (no '=')")


def read_recorded_address(path: Path) -> str | None:
    """The GCS address (HOST:PORT) in Ray's record of the last `ray start` (`path`, what address
    `auto` reads), or None when there is none; SettingsError naming the file when it holds
    anything else (Ray writes it; a broken one must not break seedcore)."""
    where = f"{path} (Ray's record of the last `ray start`)"
    hint = "delete it (the next `ray start` writes it again), or set RAY_ADDRESS to the cluster you want"
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise SettingsError(f"{where} cannot be read: {err.strerror or err}", hint) from None
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SettingsError(f"{where} is not text ({len(raw)} bytes)", hint) from None
    if not text:
        return None
    try:
        target = parse_address(Sourced(text, str(path)))
    except SettingsError:
        target = None
    if target is None or target.kind != "gcs" or not split_url(text)[2]:  # Ray writes IP:PORT
        raise SettingsError(f"{where} holds {quoted(text)}, not a HOST:PORT address", hint)
    return target.endpoint


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
                f"SEEDCORE_NS={quoted(seed_ns.value)} and RAY_NAMESPACE={quoted(ray_ns.value)} differ; "
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
