"""Short, bounded network probes: is a port open, what does it speak, what does it demand?

Ray waits ~30 s (ray://) to ~2 min (GCS) on a closed or wrong port, ~20-30 s on a cluster that
wants a token it was not given, and mis-reports TLS mismatches. One or two gRPC calls answer all
of that in milliseconds on loopback, and within `timeout` elsewhere:

- the GCS implements `NodeInfoGcsService/CheckAlive`, whose reply carries the cluster's Ray
  version; the Ray Client server implements `RayletDriver/ClusterInfo`, whose PING reply carries
  the server's Ray and Python versions. Each answers UNIMPLEMENTED for the other's method, so a
  one-method call with an (almost) empty request tells them apart.
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
import urllib.error
import urllib.request
from dataclasses import dataclass

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
    """The certificate files Ray's RAY_TLS_* variables name (read by the caller, checked there)."""

    cert: bytes
    key: bytes
    ca: bytes
    ca_path: str = ""


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
    import tempfile

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols(["h2"])
    if tls is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = False  # Ray's gRPC checks the CA chain; names are the operator's
        context.load_verify_locations(cadata=tls.ca.decode(errors="replace"))
        with tempfile.NamedTemporaryFile() as cert, tempfile.NamedTemporaryFile() as key:
            cert.write(tls.cert), key.write(tls.key)
            cert.flush(), key.flush()
            context.load_cert_chain(cert.name, key.name)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host) as wrapped:
                wrapped.do_handshake()
        return True, ""
    except ssl.SSLCertVerificationError as err:
        return False, f"untrusted: {err.verify_message or err.reason}"
    except ssl.SSLError as err:
        return False, f"ssl: {err.reason or err}"
    except OSError as err:
        return False, f"closed: {err}"


def _call(channel, method: str, request: bytes, timeout: float, token_header: str | None):
    """One unary call: (status code name, reply bytes)."""
    import grpc  # a dependency of ray[default]; imported only when probing

    metadata = (("authorization", token_header),) if token_header else None
    call = channel.unary_unary(method, request_serializer=bytes, response_deserializer=bytes)
    try:
        return "OK", call(request, timeout=timeout, metadata=metadata)
    except grpc.RpcError as err:
        return err.code().name, b""


def protocol_of(host: str, port: int, timeout: float = 2.0, *, token_header: str | None = None,
                tls: TlsFiles | None = None) -> Protocol:
    """Classify a port within about 3 x timeout: closed, GCS, Ray Client, TLS trouble, other."""
    if not tcp_open(host, port, timeout):
        return Protocol(CLOSED)
    if tls is not None:
        ok, why = _tls_handshake(host, port, timeout, tls)
        if not ok:
            if why.startswith("untrusted"):
                return Protocol(TLS_UNTRUSTED, detail=why.split(": ", 1)[-1])
            if _speaks_plain_grpc(host, port, timeout):
                return Protocol(TLS_NOT_SPOKEN)
            return Protocol(TLS_FAILED, detail=why)
    import grpc

    if tls is None:
        channel = grpc.insecure_channel(f"{host}:{port}")
    else:
        credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca, private_key=tls.key,
                                                   certificate_chain=tls.cert)
        # Ray's certificates name the head's IP; accept the address the user gave.
        channel = grpc.secure_channel(f"{host}:{port}", credentials)
    try:
        code, reply = _call(channel, _GCS_METHOD, b"", timeout, token_header)
        if code == "UNAUTHENTICATED":
            return Protocol(GCS, _auth(code, token_header))
        if code == "OK":
            metadata = _kv_get(channel, b"CLUSTER_METADATA", b"cluster", timeout, token_header)
            try:
                python = str(json.loads(metadata or b"{}").get("python_version") or "")
            except ValueError:
                python = ""
            dashboard = _kv_get(channel, b"dashboard", b"dashboard", timeout, token_header)
            return Protocol(GCS, ray_version=_string_field(reply, 2), python_version=python,
                            dashboard=(dashboard or b"").decode(errors="replace"))
        if code == "UNIMPLEMENTED":
            code, reply = _call(channel, _CLIENT_METHOD, _CLIENT_PING, timeout, token_header)
            if code == "UNIMPLEMENTED":
                return Protocol(OTHER)
            if code == "DEADLINE_EXCEEDED":
                return Protocol(SLOW)
            versions = _ping_versions(reply)
            return Protocol(CLIENT, _auth(code, token_header), *versions)
        if code == "DEADLINE_EXCEEDED":
            return Protocol(SLOW)
        if tls is not None and code == "UNAVAILABLE":
            # TLS 1.3 finishes the handshake before the server checks the client's certificate;
            # a server that then refuses it just closes the connection.
            return Protocol(TLS_FAILED, detail="the server closed the connection: it does not accept "
                                               "this client certificate")
        if tls is None and _tls_handshake(host, port, timeout, None)[0]:
            return Protocol(TLS_REQUIRED)
        return Protocol(OTHER)
    finally:
        channel.close()


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
    import grpc

    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        code, _ = _call(channel, _GCS_METHOD, b"", timeout, None)
        return code in ("OK", "UNAUTHENTICATED", "UNIMPLEMENTED")
    finally:
        channel.close()


def _auth(code: str, token_header: str | None) -> str:
    if code != "UNAUTHENTICATED":
        return AUTH_NONE
    return AUTH_REFUSED if token_header else AUTH_MISSING


def _ping_versions(reply: bytes) -> tuple[str, str]:
    """(ray_version, python_version) from a ClusterInfoResponse to PING (json, field 2)."""
    try:
        info = json.loads(_string_field(reply, 2) or "{}")
    except ValueError:
        return "", ""
    return str(info.get("ray_version") or ""), str(info.get("python_version") or "")


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


def http_ok(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """GET url; (True, '') on a 2xx answer, else (False, reason)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return False, str(reason)
