"""Ray's TLS settings, read the way Ray reads them: RAY_USE_TLS and the RAY_TLS_* files.

A cluster started with RAY_USE_TLS=1 speaks TLS (mutual: the client shows a certificate too) on
its GCS and Ray Client ports; every driver needs the same variables. seedcore reads them once,
so its probe speaks what Ray will speak, and a missing or unreadable file is a bad input named by
its variable instead of a handshake failure later.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path

from seedcore_cli.errors import SettingsError, fold, quoted
from seedcore_cli.ray_boundary.probe import TlsFiles, tls_context

USE_TLS_ENV = "RAY_USE_TLS"
CERT_ENV, KEY_ENV, CA_ENV = "RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT"
SETUP = (f"{USE_TLS_ENV}=1 with {CERT_ENV}, {KEY_ENV} and {CA_ENV} naming the same kind of files "
         "the head was started with")


def enabled(environ: Mapping[str, str]) -> bool:
    """Ray's own test: RAY_USE_TLS is '1' or 'true' (any case)."""
    return environ.get(USE_TLS_ENV, "0").strip().lower() in ("1", "true")


def files_from_env(environ: Mapping[str, str]) -> TlsFiles | None:
    """The certificate files when RAY_USE_TLS is on, else None; exit 2 when one is unusable."""
    if not enabled(environ):
        return None
    contents, paths = {}, {}
    for name in (CERT_ENV, KEY_ENV, CA_ENV):
        raw = environ.get(name, "").strip()
        if not raw:
            raise SettingsError(f"{USE_TLS_ENV} is on but {name} is not set",
                                f"set {name} to the PEM file the head uses, or unset {USE_TLS_ENV}")
        paths[name] = str(Path(raw).expanduser())
        try:
            contents[name] = Path(paths[name]).read_bytes()
        except OSError as err:
            raise SettingsError(f"{name}={quoted(raw)} cannot be read ({err.strerror or err})",
                                f"point {name} at a readable PEM file") from None
    files = TlsFiles(contents[CERT_ENV], contents[KEY_ENV], contents[CA_ENV], cert_path=paths[CERT_ENV],
                     key_path=paths[KEY_ENV], ca_path=paths[CA_ENV])
    try:
        tls_context(files)  # the same checks the handshake makes, once, here
    except (ssl.SSLError, ValueError) as err:
        raise SettingsError(f"the TLS files named by {CERT_ENV}, {KEY_ENV} and {CA_ENV} are not a usable "
                            f"certificate, key and CA ({fold(str(err), 120)})",
                            "each must be an unencrypted PEM file; the key must match the certificate") from None
    return files
