"""Short, bounded network probes: is a port open, what does it speak, what does it demand?

Ray waits ~30 s (ray://) to ~2 min (GCS) on a closed or wrong port, ~20-30 s on a cluster that
wants a token it was not given, and mis-reports TLS mismatches. One or two gRPC calls answer all
of that in milliseconds on loopback, and within `timeout` elsewhere:

- the GCS implements `NodeInfoGcsService/CheckAlive`, whose reply carries the cluster's Ray
  version (and its internal KV holds the Python version and the dashboard's address); the Ray
  Client proxy implements `RayletDriver/ClusterInfo` and answers PING itself. Each answers
  UNIMPLEMENTED for the other's method, so a one-method call tells them apart.
- A cluster with token authentication answers UNAUTHENTICATED to its own method (after routing,
  so the protocol is still known) when the token is missing or wrong.
- TLS is settled first with a plain TLS handshake (`ssl`), which names the mismatch: a TLS
  server reached in plaintext, a plaintext server reached with TLS, a certificate the CA does not
  sign.

Nothing here imports ray; the replies are read with a ten-line protobuf reader.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from seedcore_cli.ray_boundary import environment

_GCS_METHOD = "/ray.rpc.NodeInfoGcsService/CheckAlive"
_CLIENT_METHOD = "/ray.rpc.RayletDriver/ClusterInfo"
_CLIENT_PING = b"\x08\x06"  # ClusterInfoRequest(type=PING)
_KV_GET = "/ray.rpc.InternalKVGcsService/InternalKVGet"

# Protocol names
CLOSED, GCS, CLIENT, OTHER, SLOW = "closed", "gcs", "client", "other", "slow"
TLS_REQUIRED = "tls-required"  # the server speaks TLS and we spoke plaintext
TLS_NOT_SPOKEN = "tls-not-spoken"  # we spoke TLS and the server did not
TLS_UNTRUSTED = "tls-untrusted"  # the server's certificate does not verify against our CA
TLS_FAILED = "tls-failed"  # any other handshake failure (client certificate refused, ...)

# Authentication outcomes
AUTH_NONE = ""  # the call went through (no token needed, or the one sent was accepted)
AUTH_MISSING = "missing"  # UNAUTHENTICATED and no token was sent
AUTH_REFUSED = "refused"  # UNAUTHENTICATED although a token was sent


def tcp_open(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files Ray's RAY_TLS_* variables name, and their contents (for gRPC)."""

    cert: bytes
    key: bytes
    ca: bytes
    cert_path: str = ""
    key_path: str = ""
    ca_path: str = ""


def tls_context(tls: TlsFiles | None) -> ssl.SSLContext:
    """A client TLS context: with `tls`, trusting its CA and showing its certificate (Ray's TLS is
    mutual); without, trusting anything (only to ask whether a port speaks TLS at all).

    Raises ssl.SSLError for files that are not usable PEM (tls.files_from_env turns that into a
    bad-input error naming the variable). An encrypted key fails instead of prompting."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols(["h2"])
    context.check_hostname = False  # names are checked by gRPC on the real call
    if tls is None:
        context.verify_mode = ssl.CERT_NONE
        return context
    context.load_verify_locations(cadata=tls.ca.decode(errors="replace"))
    context.load_cert_chain(tls.cert_path, tls.key_path, password=_no_passphrase)
    return context


def _no_passphrase() -> str:
    raise ssl.SSLError("the key is encrypted (Ray's TLS needs an unencrypted key)")


@dataclass(frozen=True)
class Protocol:
    """What a port speaks (`name`: one of the names above), whether it wanted a token (`auth`),
    and the versions its answer carried ('' when it did not say)."""

    name: str
    auth: str = AUTH_NONE
    ray_version: str = ""
    python_version: str = ""
    detail: str = ""
    dashboard: str = ""  # HOST:PORT of the dashboard, as the GCS records it ('' unknown)


def _tls_handshake(host: str, port: int, timeout: float, tls: TlsFiles | None) -> tuple[bool, str]:
    """(handshake ok, why not). With `tls`, verify against its CA and present its certificate;
    without, just ask whether the server speaks TLS at all."""
    context = tls_context(tls)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as wrapped:
            wrapped.do_handshake()
        return True, ""
    except ssl.SSLCertVerificationError as err:
        return False, f"untrusted: {err.verify_message or err.reason}"
    except ssl.SSLError as err:
        return False, f"ssl: {err.reason or err}"
    except OSError as err:
        return False, f"closed: {err}"


def _call(channel, method: str, request: bytes, timeout: float, token_header: str | None,
          extra_metadata: tuple[tuple[str, str], ...] = ()):
    """One unary call: (status code name, reply bytes)."""
    grpc = _grpc()

    metadata = ((("authorization", token_header),) if token_header else ()) + extra_metadata or None
    call = channel.unary_unary(method, request_serializer=bytes, response_deserializer=bytes)
    try:
        return "OK", call(request, timeout=timeout, metadata=metadata)
    except grpc.RpcError as err:
        return err.code().name, b""


def protocol_of(host: str, port: int, timeout: float = 2.0, *, token_header: str | None = None,
                tls: TlsFiles | None = None) -> Protocol:
    """Classify a port: closed, GCS, Ray Client, TLS trouble, other. Each step waits at most
    `timeout`, all of them together at most 2 x timeout."""
    deadline = time.monotonic() + 2 * timeout

    def left() -> float:
        return max(0.05, min(timeout, deadline - time.monotonic()))

    if not tcp_open(host, port, left()):
        return Protocol(CLOSED)
    if tls is not None:
        trouble = _tls_trouble(host, port, tls, left)
        if trouble is not None:
            return trouble
    channel = _channel(host, port, tls)
    try:
        code, reply = _call(channel, _GCS_METHOD, b"", left(), token_header)
        if code in ("OK", "UNAUTHENTICATED"):
            return _gcs(channel, code, reply, token_header, left)
        if code == "UNIMPLEMENTED":
            return _client(channel, token_header, left())
        if code == "DEADLINE_EXCEEDED":
            return Protocol(SLOW)
        if tls is not None and code == "UNAVAILABLE":
            # TLS 1.3 finishes the handshake before the server checks the client's certificate;
            # a server that then refuses it (or a name the certificate does not carry) just closes.
            return Protocol(TLS_FAILED, detail="the server closed the connection: it does not accept "
                                               "this client certificate, or its own does not name "
                                               f"{host}")
        if tls is None and _tls_handshake(host, port, left(), None)[0]:
            return Protocol(TLS_REQUIRED)
        return Protocol(OTHER)
    finally:
        channel.close()


def _tls_trouble(host: str, port: int, tls: TlsFiles, left: Callable[[], float]) -> Protocol | None:
    """The TLS mismatch a handshake with `tls` shows (None: the handshake succeeded)."""
    ok, why = _tls_handshake(host, port, left(), tls)
    if ok:
        return None
    if why.startswith("untrusted"):
        return Protocol(TLS_UNTRUSTED, detail=why.split(": ", 1)[-1])
    if _speaks_plain_grpc(host, port, left()):
        return Protocol(TLS_NOT_SPOKEN)
    return Protocol(TLS_FAILED, detail=why)


def _gcs(channel, code: str, reply: bytes, token_header: str | None, left: Callable[[], float]) -> Protocol:
    """A GCS answered CheckAlive: its auth demand, or its versions and dashboard (from its KV)."""
    if code == "UNAUTHENTICATED":
        return Protocol(GCS, _auth(code, token_header))
    metadata = _kv_get(channel, b"CLUSTER_METADATA", b"cluster", left(), token_header)
    try:
        python = str(json.loads(metadata or b"{}").get("python_version") or "")
    except ValueError:
        python = ""
    dashboard = _kv_get(channel, b"dashboard", b"dashboard", left(), token_header)
    return Protocol(GCS, ray_version=_string_field(reply, 2), python_version=python,
                    dashboard=(dashboard or b"").decode(errors="replace"))


def _client(channel, token_header: str | None, timeout: float) -> Protocol:
    """Not a GCS: a Ray Client proxy answers PING itself, with no versions (those come once a
    session starts); anything else is OTHER, or SLOW when it does not answer."""
    code, _ = _call(channel, _CLIENT_METHOD, _CLIENT_PING, timeout, token_header)
    if code == "UNIMPLEMENTED":
        return Protocol(OTHER)
    if code == "DEADLINE_EXCEEDED":
        return Protocol(SLOW)
    return Protocol(CLIENT, _auth(code, token_header))


def _channel(host: str, port: int, tls: TlsFiles | None):
    grpc = _grpc()
    if tls is None:
        return grpc.insecure_channel(f"{host}:{port}")
    credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca, private_key=tls.key,
                                               certificate_chain=tls.cert)
    # gRPC checks that the head's certificate names the address used, as Ray's drivers do.
    return grpc.secure_channel(f"{host}:{port}", credentials)


# --- liveness: does a Ray process answer at all? ----------------------------------------------

ANSWERS, SILENT, GONE, UNREACHABLE = "answers", "silent", "gone", "unreachable"
GCS_ALIVE_METHOD = _GCS_METHOD
CLIENT_PING_METHOD = _CLIENT_METHOD
# No Ray server implements it: a live server answers UNIMPLEMENTED (or UNAUTHENTICATED) at once.
RAYLET_LIVENESS_METHOD = "/ray.rpc.NodeManagerService/SeedcoreLiveness"
_CLIENT_KV_GET = "/ray.rpc.RayletDriver/KVGet"


def answer_of(host: str, port: int, method: str, timeout: float, *, request: bytes = b"",
              tls: TlsFiles | None = None, token_header: str | None = None) -> str:
    """ANSWERS when the process behind the port answers a gRPC call in any way within `timeout`,
    GONE when nothing listens (refused), SILENT when it accepts connections but says nothing (a
    process stopped with SIGSTOP, or hung: the kernel still completes the TCP handshake for it),
    UNREACHABLE when the connection itself times out (a stopped process whose accept queue is
    full, or an address this machine cannot reach)."""
    reached = _connect(host, port, timeout)
    if reached != ANSWERS:
        return reached
    channel = _channel(host, port, tls)
    try:
        code, _ = _call(channel, method, request, timeout, token_header)
    finally:
        channel.close()
    return SILENT if code in ("DEADLINE_EXCEEDED", "UNAVAILABLE") else ANSWERS


def _connect(host: str, port: int, timeout: float) -> str:
    """ANSWERS (the TCP connection opened), GONE (refused) or UNREACHABLE (timed out, no route)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return ANSWERS
    except ConnectionRefusedError:
        return GONE
    except OSError:
        return UNREACHABLE


def client_gcs_pid(host: str, port: int, timeout: float, *, tls: TlsFiles | None = None,
                   token_header: str | None = None) -> tuple[str, str]:
    """Whether the GCS behind a Ray Client server answers (ANSWERS|SILENT|GONE|UNREACHABLE, the
    last two about the server itself), and the GCS's pid it records ('' unknown): before any
    session the server answers a KV read itself, from its own GCS connection (it wants a client
    id, any will do). `gcs_pid` is a key every head writes."""
    reached = _connect(host, port, timeout)
    if reached != ANSWERS:
        return reached, ""
    import uuid

    channel = _channel(host, port, tls)
    try:
        code, reply = _call(channel, _CLIENT_KV_GET, b"\x0a\x07gcs_pid", timeout, token_header,
                            (("client_id", uuid.uuid4().hex),))
    finally:
        channel.close()
    if code in ("DEADLINE_EXCEEDED", "UNAVAILABLE"):
        return SILENT, ""
    return ANSWERS, _string_field(reply, 1) if code == "OK" else ""


def gcs_kv_get(host: str, port: int, namespace: bytes, key: bytes, timeout: float, *,
               tls: TlsFiles | None = None, token_header: str | None = None) -> bytes | None:
    """A GCS internal KV value read from the GCS itself (None when absent or unreadable)."""
    channel = _channel(host, port, tls)
    try:
        return _kv_get(channel, key, namespace, timeout, token_header)
    finally:
        channel.close()


def _grpc():
    """grpc (a dependency of ray[default]), imported only when probing; its C core's INFO lines
    (a failed handshake, say) stay off the user's stderr unless they asked for them."""
    environment.quiet_grpc()
    import grpc

    return grpc


def _kv_get(channel, key: bytes, namespace: bytes, timeout: float, token_header: str | None) -> bytes | None:
    """A GCS internal KV value (what the head records: CLUSTER_METADATA, the dashboard address),
    or None when it is not there or not readable."""
    request = b"\x0a" + _encode_varint(len(key)) + key + b"\x12" + _encode_varint(len(namespace)) + namespace
    code, reply = _call(channel, _KV_GET, request, timeout, token_header)
    if code != "OK":
        return None
    value = _string_field(reply, 2)
    return value.encode() if value else None


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _speaks_plain_grpc(host: str, port: int, timeout: float) -> bool:
    channel = _grpc().insecure_channel(f"{host}:{port}")
    try:
        code, _ = _call(channel, _GCS_METHOD, b"", timeout, None)
        return code in ("OK", "UNAUTHENTICATED", "UNIMPLEMENTED")
    finally:
        channel.close()


def _auth(code: str, token_header: str | None) -> str:
    if code != "UNAUTHENTICATED":
        return AUTH_NONE
    return AUTH_REFUSED if token_header else AUTH_MISSING


def _string_field(message: bytes, number: int) -> str:
    """The first length-delimited top-level field `number` of a protobuf message, as text."""
    i = 0
    try:
        while i < len(message):
            key, i = _varint(message, i)
            kind = key & 7
            if kind == 0:
                _, i = _varint(message, i)
            elif kind == 2:
                length, i = _varint(message, i)
                if key >> 3 == number:
                    return message[i:i + length].decode(errors="replace")
                i += length
            elif kind in (1, 5):
                i += 8 if kind == 1 else 4
            else:
                return ""
    except IndexError:
        pass
    return ""


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
