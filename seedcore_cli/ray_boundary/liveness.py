"""Which part of a Ray cluster does not answer? Asked when a Ray call outlives its deadline.

Ray blocks without a deadline when a process it needs is frozen (SIGSTOP, a hung host) or gone:
`ray.init` through Ray Client waits for ever on a frozen GCS, a driver waits ~30 s on a frozen
raylet, and every GCS look-up after connecting can do the same. The watchdog then needs a
verdict that names the culprit. These probes give it in a second or two, without Ray: each asks
one process for any gRPC answer (probe.answer_of) and tells a silent process (accepts the
connection, says nothing) from a gone one (nothing listens).

- driver mode: the GCS itself, then every alive node's raylet (found through the dashboard's
  node summary, whose address the GCS records);
- Ray Client: the Ray Client server (it answers PING itself), the GCS behind it (the server
  answers a KV read from its own GCS connection before any session), then the raylets when the
  dashboard is known: RAY_API_SERVER_ADDRESS, the session's, or Ray's default port on the Ray
  Client server's host when that dashboard names the same GCS pid; one that cannot be reached
  from here is not blamed (node addresses may be private to the cluster).

`find_culprit(target, timeout)` -> the first component that does not answer, or None when every
one answers (the cluster is slow, not stuck). Nothing here imports ray.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from seedcore_cli.errors import CannotConnect, SeedcoreError
from seedcore_cli.ray_boundary import auth, probe, state_api
from seedcore_cli.settings import DEFAULT_DASHBOARD_PORT, ConnectionMode, http_url

MODE_CLIENT = ConnectionMode.CLIENT
PROBE_TIMEOUT_S = 1.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Target:
    """Where the cluster was reached, and how to talk to it."""

    mode: ConnectionMode
    host: str
    port: int
    tls: probe.TlsFiles | None = None
    token: auth.Token | None = None
    dashboard_url: str = ""  # when known (a live connection); else read from the GCS
    # (host, port, node id) of raylets known to matter: the driver's own, found when connecting;
    # probed even when the dashboard can no longer list them (a head that went away)
    raylets: tuple[tuple[str, int, str], ...] = ()

    @property
    def token_header(self) -> str | None:
        return self.token.header if self.token else None


@dataclass(frozen=True)
class Culprit:
    component: str  # "GCS", "Ray Client server", "raylet"
    where: str  # address (and node) of the silent component
    answer: str  # probe.SILENT, probe.GONE or probe.UNREACHABLE

    def describe(self) -> str:
        verb = {probe.GONE: "is gone (nothing listens)",
                probe.UNREACHABLE: "does not accept connections (frozen, or unreachable from here)"}.get(
            self.answer, "does not answer (frozen or overloaded)")
        return f"the {self.component} at {self.where} {verb}"


def target_for(mode: ConnectionMode, host: str, port: int, tls: probe.TlsFiles | None, token: auth.Token | None,
               dashboard_url: str = "", api_server_address: str = "",
               raylets: tuple[tuple[str, int, str], ...] = ()) -> Target:
    """The Target for a cluster reached at host:port (token: the one connect() settled on;
    api_server_address: RAY_API_SERVER_ADDRESS as the user set it)."""
    if not dashboard_url and mode == MODE_CLIENT:
        # Before a Ray Client session the dashboard (hence the raylets) is known only when named.
        dashboard_url = api_server_address
    return Target(mode, host, port, tls, token, dashboard_url, raylets)


def check_local_raylets(target: Target, where: str) -> tuple[tuple[str, int, str], ...]:
    """The alive raylets on this machine (a driver attaches to one of them; the GCS answered the
    preflight probe moments ago); CannotConnect when one is silent."""
    dashboard = target.dashboard_url or _recorded_dashboard(target, PROBE_TIMEOUT_S)
    raylets = (_alive_raylets(dashboard, target, PROBE_TIMEOUT_S, local_addresses()) if dashboard else None) or []
    answers = _answers(raylets, target, PROBE_TIMEOUT_S)
    # A silent one may be the one ray.init picks (and blocks on); a gone one only matters when
    # none is left (the dashboard lists a node lost a second ago as alive for a moment).
    culprit = next((Culprit("raylet", _where_raylet(r), a) for r, a in zip(raylets, answers)
                    if a in (probe.SILENT, probe.UNREACHABLE)), None)
    if culprit is None and raylets and all(a == probe.GONE for a in answers):
        culprit = Culprit("raylet", _where_raylet(raylets[0]), probe.GONE)
    if culprit is not None:
        raise CannotConnect(f"cannot connect to {where}: {culprit.describe()}",
                            "resume or restart that process (or the node), then try again")
    return tuple(r for r, a in zip(raylets, answers) if a == probe.ANSWERS)


def find_culprit(target: Target, timeout: float = PROBE_TIMEOUT_S,
                 raylet_hosts: frozenset[str] | None = None) -> Culprit | None:
    """The first part of the cluster that does not answer within `timeout` per probe;
    raylet_hosts: probe only the raylets on these addresses (default: every alive node's)."""
    dashboard = target.dashboard_url
    if target.mode == MODE_CLIENT:
        where = f"ray://{target.host}:{target.port}"
        answer = probe.answer_of(target.host, target.port, probe.CLIENT_PING_METHOD, timeout,
                                 request=b"\x08\x06", tls=target.tls,
                                 token_header=target.token_header)
        if answer != probe.ANSWERS:
            return Culprit("Ray Client server", where, answer)
        answer, gcs_pid = probe.client_gcs_pid(target.host, target.port, timeout, tls=target.tls,
                                                  token_header=target.token_header)
        if answer != probe.ANSWERS:
            return Culprit("GCS", f"the cluster behind {where}", probe.SILENT)
        if not dashboard:
            dashboard = _default_dashboard_of(target, gcs_pid, timeout)
    else:
        where = f"{target.host}:{target.port}"
        answer = probe.answer_of(target.host, target.port, probe.GCS_ALIVE_METHOD, timeout, tls=target.tls,
                                 token_header=target.token_header)
        if answer != probe.ANSWERS:
            return Culprit("GCS", where, answer)
        dashboard = dashboard or _recorded_dashboard(target, timeout)
    listed = (_alive_raylets(dashboard, target, timeout, raylet_hosts) if dashboard else None) or []
    return _silent_raylet([*listed, *(r for r in target.raylets if r not in listed)], target, timeout)


def _default_dashboard_of(target: Target, gcs_pid: str, timeout: float) -> str:
    """Through Ray Client nothing tells the dashboard's address before a session exists. Ray's
    default (the Ray Client server's host, port 8265, as on KubeRay's head service) is taken only
    when it is this very cluster's: its node summary names the GCS pid the Ray Client server
    recorded. '' otherwise."""
    if not gcs_pid:
        return ""
    url = f"http://{target.host}:{DEFAULT_DASHBOARD_PORT}"
    summary = _node_summary(url, timeout, target.token)
    pids = {str((entry.get("gcs") or {}).get("pid")) for entry in summary or [] if isinstance(entry, dict)}
    return url if gcs_pid in pids else ""


def _node_summary(url: str, timeout: float, token: auth.Token | None) -> list | None:
    """The dashboard's node summary (one entry per node: raylet, gcs, ...), None when unreadable."""
    try:
        payload = state_api.get_json(url + "/nodes", [("view", "summary")], timeout=2 * timeout,
                                     source="the GCS", token=token, envelope=False)
        summary = (payload.get("data") or {}).get("summary")
    except (SeedcoreError, AttributeError, TypeError):
        return None
    return summary if isinstance(summary, list) else None


def _recorded_dashboard(target: Target, timeout: float) -> str:
    """The dashboard's address as the GCS records it ('' unknown)."""
    recorded = probe.gcs_kv_get(target.host, target.port, b"dashboard", b"dashboard", timeout,
                                tls=target.tls, token_header=target.token_header)
    return (recorded or b"").decode(errors="replace")


def local_addresses() -> frozenset[str]:
    """This machine's IP addresses: a driver attaches to the raylet on one of them."""
    import psutil

    found = {"127.0.0.1", "localhost"}
    for addresses in psutil.net_if_addrs().values():
        found.update(entry.address for entry in addresses if entry.family.name in ("AF_INET", "AF_INET6"))
    return frozenset(found)


def _alive_raylets(dashboard: str, target: Target, timeout: float,
                   hosts: frozenset[str] | None) -> list[tuple[str, int, str]] | None:
    """(host, port, node id) of every alive node's raylet, from the dashboard's node summary
    (only those on `hosts` when given); None when the dashboard does not tell."""
    url = http_url(dashboard)
    try:
        nodes = [entry.get("raylet") or {} for entry in _node_summary(url, timeout, target.token) or []]
        raylets = [(str(node.get("nodeManagerAddress") or ""), state_api.as_int(node.get("nodeManagerPort")),
                    str(node.get("nodeId") or "")[:8]) for node in nodes if node.get("state") == "ALIVE"]
    except (AttributeError, TypeError):  # a summary of another shape
        return None
    return [(host, port, node) for host, port, node in raylets
            if host and port and (hosts is None or host in hosts)]


def _answers(raylets: list[tuple[str, int, str]], target: Target, timeout: float) -> list[str]:
    """probe.answer_of for each raylet, all at once."""
    if not raylets:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(raylets))) as pool:
        return list(pool.map(lambda r: probe.answer_of(r[0], r[1], probe.RAYLET_LIVENESS_METHOD, timeout,
                                                       tls=target.tls, token_header=target.token_header),
                             raylets))


def _where_raylet(raylet: tuple[str, int, str]) -> str:
    host, port, node = raylet
    return f"{host}:{port} (node {node})"


def _silent_raylet(raylets: list[tuple[str, int, str]], target: Target, timeout: float) -> Culprit | None:
    """The first of `raylets` that does not answer (all probed at once)."""
    answers = _answers(raylets, target, timeout)
    for (host, port, node), answer in zip(raylets, answers):
        # Through Ray Client the node addresses may not be reachable from here at all (pod IPs
        # behind a port-forward): a connection that times out there says nothing. On this
        # machine it does: a stopped raylet's accept queue is full.
        if answer in (probe.SILENT, probe.GONE) or (
                answer == probe.UNREACHABLE and (target.mode != MODE_CLIENT or host in LOOPBACK_HOSTS)):
            return Culprit("raylet", _where_raylet((host, port, node)), answer)
    return None
