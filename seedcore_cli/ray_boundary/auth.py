"""Ray token authentication, seen from seedcore's side: where a token is, and turning it on.

Ray (2.59+) clusters can demand a token on every gRPC and HTTP call. Ray's own drivers send one
only when RAY_AUTH_MODE=token is in their environment when ray is imported, so a user who copied
the token but never exported the mode waits ~20-30 s for an error that does not say "token".
seedcore probes first: when the cluster demands a token, connect() finds it where Ray looks and
turns token mode on for its own process (environment.enable_token_mode), before Ray is imported,
and carries the token on the Connection for everything that talks to the cluster afterwards.

Ray's order, kept here: RAY_AUTH_TOKEN, then the file RAY_AUTH_TOKEN_PATH names, then
~/.ray/auth_token. seedcore's own local cluster, started with token authentication, keeps its token in
the state directory and names it with RAY_AUTH_TOKEN_PATH. The token never appears in messages:
`Token` does not show its value in repr, and callers only print `source`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
HOW_TO_GET = ("get it with `ray get-auth-token` on the head (KubeRay: `kubectl ray get token CLUSTER`) "
              f"and set {TOKEN_ENV}, or save it to ~/.ray/auth_token")
# A refused token. On KubeRay every pod, seedcore's Job and CronJob included, reads the token from the
# Secret named after the RayCluster when it starts, and the operator generates that Secret only if
# none of that name exists: a Secret deleted or replaced after the Ray pods started leaves them on
# the old token and new pods on the new one (docs/kubernetes.md, "The token Secret").
REFUSED_HINT = ("the token belongs to another cluster or was rotated (KubeRay: a pod reads the Secret named "
                "after the RayCluster when it starts; if that Secret changed since the Ray pods started, "
                "restart them): " + HOW_TO_GET)


def default_token_file() -> Path:
    return Path.home() / ".ray" / "auth_token"


@dataclass(frozen=True)
class Token:
    """A token and where it came from ('RAY_AUTH_TOKEN', 'RAY_AUTH_TOKEN_PATH (/x)', a file)."""

    value: str = field(repr=False)
    source: str

    @property
    def header(self) -> str:
        return f"Bearer {self.value}"


def places(environ: Mapping[str, str]) -> str:
    """Where find_token() looks, for messages: 'RAY_AUTH_TOKEN (unset), ...'."""
    path = environ.get(TOKEN_PATH_ENV, "").strip()
    return ", ".join([
        f"{TOKEN_ENV} ({'set' if environ.get(TOKEN_ENV, '').strip() else 'unset'})",
        f"{TOKEN_PATH_ENV} ({_describe_file(Path(path).expanduser()) if path else 'unset'})",
        f"{default_token_file()} ({_describe_file(default_token_file())})",
    ])


def _describe_file(path: Path) -> str:
    if not path.exists():
        return f"{path} missing" if path != default_token_file() else "missing"
    return f"{path}" if path != default_token_file() else "present"


def find_token(environ: Mapping[str, str]) -> Token | None:
    """The token Ray would send, in Ray's order, whatever RAY_AUTH_MODE says; None if none."""
    value = environ.get(TOKEN_ENV, "").strip()
    if value:
        return Token(value, TOKEN_ENV)
    path = environ.get(TOKEN_PATH_ENV, "").strip()
    if path:
        return read_token_file(Path(path).expanduser(), TOKEN_PATH_ENV)
    text = _read(default_token_file())
    return Token(text, str(default_token_file())) if text else None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except (OSError, ValueError):
        return ""


def read_token_file(path: Path, label: str) -> Token | None:
    text = _read(path)
    return Token(text, f"{label} ({path})") if text else None


def token_mode_on(environ: Mapping[str, str]) -> bool:
    return environ.get(MODE_ENV, "").strip().lower() == "token"


def token_to_send(environ: Mapping[str, str]) -> Token | None:
    """The token a Ray driver started with `environ` sends: only in token mode (the user set
    RAY_AUTH_MODE=token), in Ray's order. connect() settles the token otherwise (the cluster
    demanded one); a token is never sent to a dashboard that did not ask for one."""
    return find_token(environ) if token_mode_on(environ) else None
