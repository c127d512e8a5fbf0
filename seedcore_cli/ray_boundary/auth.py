"""Ray token authentication, seen from seedcore's side: where a token is, and turning it on.

Ray (2.59+) clusters can demand a token on every gRPC and HTTP call. Ray's own drivers send one
only when RAY_AUTH_MODE=token is in their environment when ray is imported, so a user who copied
the token but never exported the mode waits ~20-30 s for an error that does not say "token".
seedcore probes first: when the cluster demands a token, connect() finds it where Ray looks and
turns token mode on for its own process (`enable_token_mode`), before Ray is imported.

Ray's order, kept here: RAY_AUTH_TOKEN, then the file RAY_AUTH_TOKEN_PATH names, then
~/.ray/auth_token. seedcore's own local cluster, started with token authentication, keeps its token in
the state directory and names it with RAY_AUTH_TOKEN_PATH. The token never appears in messages:
`Token` does not show its value in repr, and callers only print `source`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
HOW_TO_GET = ("get it with `ray get-auth-token` on the head (KubeRay: `kubectl ray get token CLUSTER`) "
              f"and set {TOKEN_ENV}, or save it to ~/.ray/auth_token")


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


def enable_token_mode(environ: MutableMapping[str, str], token: Token) -> None:
    """Make this process's Ray send exactly `token`: RAY_AUTH_MODE=token and RAY_AUTH_TOKEN.

    Must run before ray is imported (Ray reads the mode at import); connect() calls it then,
    after a probe has shown the cluster accepts this token. Only this process's environment
    changes, until restore_environment() (disconnect) puts the user's values back; the token is
    never printed.
    """
    if not _saved:
        _saved.update({name: environ.get(name) for name in (MODE_ENV, TOKEN_ENV)})
    environ[MODE_ENV] = "token"
    environ[TOKEN_ENV] = token.value


_saved: dict[str, str | None] = {}  # the user's RAY_AUTH_MODE / RAY_AUTH_TOKEN while seedcore's are set


def restore_environment(environ: MutableMapping[str, str]) -> None:
    """Undo enable_token_mode(): the user's own RAY_AUTH_MODE and RAY_AUTH_TOKEN again."""
    _put_back(environ)
    _saved.clear()


def user_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` as the user set it: without what enable_token_mode() put there (for diagnose)."""
    user = dict(environ)
    _put_back(user)
    return user


def _put_back(environ: MutableMapping[str, str]) -> None:
    for name, value in _saved.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value


def user_mode(environ: Mapping[str, str]) -> str:
    """RAY_AUTH_MODE as the user set it ('' unset), before enable_token_mode() changed it."""
    return user_environment(environ).get(MODE_ENV, "").strip()


def token_mode_on(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get(MODE_ENV, "").strip().lower() == "token"
