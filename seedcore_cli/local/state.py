"""seedcore's record of its local cluster on disk: the state directory (SEEDCORE_STATE_DIR,
default ~/.seedcore), the JSON record `cluster start` writes, and the lock around start and stop.

The record is read strictly: a file that is not what `cluster start` wrote (truncated,
hand-edited, binary) is bad input naming the file and the fix, never a TypeError deep in `stop`.
Reading never creates anything; only `cluster start` creates the directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from seedcore_cli import paths as pathkind
from seedcore_cli.errors import BadInput, quoted

STATE_ENV = "SEEDCORE_STATE_DIR"
LOOPBACK = "127.0.0.1"
AUTH_TOKEN = "token"
_PORT_FIELDS = ("gcs_port", "client_port", "dashboard_port")


class LoopbackHead:
    """The addresses of a Ray head whose every port is on 127.0.0.1 (seedcore's, the tests')."""

    gcs_port: int
    client_port: int
    dashboard_port: int

    @property
    def gcs_address(self) -> str:
        return f"{LOOPBACK}:{self.gcs_port}"

    @property
    def client_address(self) -> str:
        return f"ray://{LOOPBACK}:{self.client_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{LOOPBACK}:{self.dashboard_port}"


@dataclass(frozen=True)
class LocalCluster(LoopbackHead):
    """What `cluster start` launched: enough to find it, connect to it and stop it."""

    pid: int
    gcs_port: int
    client_port: int
    dashboard_port: int
    temp_dir: str
    log_file: str
    started_at: float
    auth: str = ""  # "token" when started with token authentication (its token: token_file())
    # psutil's start time of the head process: a pid reused by another process has another one
    # (0: a record from before it was kept; then only the command line identifies the head).
    create_time: float = 0.0

    @property
    def session_dir(self) -> str:
        latest = Path(self.temp_dir) / "session_latest"
        if pathkind.kind(latest) != pathkind.DIRECTORY:  # a name too long makes exists() raise
            return ""
        try:
            return str(latest.resolve())
        except OSError:
            return ""


def state_dir() -> Path:
    """The state directory (it may not exist yet); bad input when the name cannot be one."""
    configured = os.environ.get(STATE_ENV)
    path = Path(configured or Path.home() / ".seedcore")
    found = pathkind.kind(path)
    if found not in (pathkind.DIRECTORY, pathkind.MISSING):
        origin = f"from {STATE_ENV}" if configured else "the default"
        why = "" if found in (pathkind.FILE, pathkind.OTHER) else f": it {pathkind.phrase(found)}"
        raise BadInput(f"state directory {quoted(str(path))} ({origin}) is not a directory{why}",
                       f"point {STATE_ENV} at a directory (it is created when missing)")
    return path


def state_file() -> Path:
    return state_dir() / "local-cluster.json"


def temp_dir() -> str:
    """Ray's --temp-dir for the cluster of this state directory. Ray's unix sockets live under it
    and their paths must stay short (< 108 bytes): a short per-state-dir folder under /tmp."""
    tag = hashlib.sha1(str(state_dir().resolve()).encode()).hexdigest()[:8]
    return str(Path(tempfile.gettempdir()) / f"seedcore-{os.getuid()}-{tag}")


def read() -> LocalCluster | None:
    """The recorded cluster, None when nothing is recorded; BadInput for a corrupt record."""
    path = state_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise _corrupt(path, f"cannot be read ({err.strerror or err})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _corrupt(path, "is not JSON (not UTF-8 text)") from None
    except ValueError as err:  # JSONDecodeError: says where
        raise _corrupt(path, f"is not JSON ({err})") from None
    except RecursionError:
        raise _corrupt(path, "is not a record (JSON nested too deeply)") from None
    problem = _record_problem(data)
    if problem:
        raise _corrupt(path, f"is corrupt: {problem}")
    known = {f.name for f in fields(LocalCluster)}
    return LocalCluster(**{k: v for k, v in data.items() if k in known})  # a newer seedcore's extra keys


def _record_problem(data: Any) -> str:
    """What makes `data` no record of `cluster start`, '' when it is one."""
    if not isinstance(data, dict):
        return f"expected a JSON object, found {_json_kind(data)}"
    for f in fields(LocalCluster):
        if f.name not in data:
            if f.default is MISSING:  # one with a default may be absent (an older record)
                return f"{f.name!r} is missing"
            continue
        value, (wanted, fits) = data[f.name], _WANTED[str(f.type)]
        if isinstance(value, bool) or not isinstance(value, fits):  # type: ignore[arg-type]
            return f"{f.name!r} is {_json_kind(value)}, not {wanted}"
    if not 1 <= data["pid"] < 2 ** 31:
        return "'pid' is out of range for a process id"
    for name in _PORT_FIELDS:
        if not 1 <= data[name] <= 65535:
            return f"{name!r} is not a port (1 to 65535)"
    if data.get("auth", "") not in ("", AUTH_TOKEN):
        return f"'auth' is {quoted(data['auth'], 40)}, not '' or {AUTH_TOKEN!r}"
    return ""


# A field's annotation (a string, under `from __future__ import annotations`) -> what JSON fits.
_WANTED = {"int": ("a whole number", int), "float": ("a number", (int, float)), "str": ("a string", str)}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    kinds = {int: "a number", float: "a decimal number", str: "a string", list: "a list", dict: "an object"}
    return kinds.get(type(value), "null")


def _corrupt(path: Path, problem: str) -> BadInput:
    return BadInput(f"local cluster state file {path} {problem}",
                    "remove it if no seedcore cluster is running (`ray start --head --block "
                    f"--temp-dir={temp_dir()}` in `ps`), then run `seedcore cluster start`")


def write(cluster: LocalCluster) -> None:
    """Replace the record at once (a reader never sees half a file)."""
    with writable():
        tmp = state_file().with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(cluster), indent=2))
        tmp.replace(state_file())


def forget() -> None:
    with writable():
        state_file().unlink(missing_ok=True)


@contextlib.contextmanager
def writable() -> Iterator[None]:
    """Writing in the state directory: an OS refusal (permissions, a full disk) is bad input
    naming the directory, not an internal error."""
    try:
        yield
    except OSError as err:
        raise BadInput(f"cannot write in the state directory {quoted(str(state_dir()))}: "
                       f"{err.strerror or err}", f"point {STATE_ENV} at a writable directory") from None


@contextlib.contextmanager
def lock() -> Iterator[None]:
    """Serialise start/stop across processes (three concurrent bootstraps start one cluster).
    Creates the state directory: call it only to start, or when a record exists."""
    with writable():
        state_dir().mkdir(parents=True, exist_ok=True)
        handle = open(state_dir() / "local-cluster.lock", "a")
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
