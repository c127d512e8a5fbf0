"""Short, bounded network probes: is a port open, and does it speak GCS or Ray Client?

Ray waits ~30 s (ray://) to ~2 min (GCS) on a closed or wrong port; these answer in
milliseconds on loopback and within `timeout` elsewhere. Both GCS and the Ray Client server
speak gRPC, so a one-method call with an empty request tells them apart: a server that does not
implement the method answers UNIMPLEMENTED.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

_GCS_METHOD = "/ray.rpc.NodeInfoGcsService/CheckAlive"
_CLIENT_METHOD = "/ray.rpc.RayletDriver/ClusterInfo"


def tcp_open(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Protocol:
    """What a port speaks: 'closed', 'gcs', 'client', 'other' (open, neither), or 'slow' (open,
    no gRPC answer within the timeout: a loaded server, so no verdict)."""

    name: str


_SLOW = "slow"


def _grpc_implements(host: str, port: int, method: str, timeout: float) -> bool | str | None:
    """True if the server implements `method`, False if not, None if it does not speak gRPC,
    'slow' if it did not answer in time."""
    import grpc  # a dependency of ray[default]; imported only when probing

    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        call = channel.unary_unary(method, request_serializer=bytes, response_deserializer=bytes)
        call(b"", timeout=timeout)
        return True
    except grpc.RpcError as err:
        code = err.code()
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return False
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return _SLOW
        if code == grpc.StatusCode.UNAVAILABLE:
            return None
        return True  # e.g. NOT_FOUND, UNAUTHENTICATED: the method exists
    finally:
        channel.close()


def protocol_of(host: str, port: int, timeout: float = 2.0) -> Protocol:
    """Classify a port as 'closed', 'gcs', 'client' or 'other' within about 2 x timeout."""
    if not tcp_open(host, port, timeout):
        return Protocol("closed")
    gcs = _grpc_implements(host, port, _GCS_METHOD, timeout)
    if gcs is True:
        return Protocol("gcs")
    if gcs is False:
        client = _grpc_implements(host, port, _CLIENT_METHOD, timeout)
        if client is True:
            return Protocol("client")
        gcs = client
    return Protocol(_SLOW if gcs == _SLOW else "other")


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
