"""Who is connected to the cluster, and in which namespace: every driver, Ray Client session and
Ray Job, with the detached actors each owns. For `seedcore connections` and diagnose check 11.

A Ray Client session shows as its server process on the head (`python -m ray.util.client.server`):
its entrypoint and pid are the server's, not the client's, so it cannot be told to be a SeedCore
service; its namespace is real.

Works the same in driver and Ray Client mode, and with token auth: the list comes from the
dashboard's State API (`/api/v0/jobs`, through `state_api`), the namespaces from the GCS job
table (`ray_compat.job_namespaces`: Ray's public job APIs have none), the owned actors from the
State API's actors (their `job_id`). When the job table cannot be read, every session is still
listed, with namespace "unknown".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from seedcore_cli.ray_boundary import ray_compat, state_api
from seedcore_cli.settings import ConnectionMode, is_anonymous_namespace

if TYPE_CHECKING:
    from seedcore_cli.ray_boundary.connection import Connection

DRIVER, CLIENT, JOB = "driver", "client", "job"
UNKNOWN = "unknown"
_LIVE_STATUS = {"RUNNING", "PENDING"}
SEEDCORE_TAG = "seedcore_cli"  # the job metadata key connect() sets on seedcore's own connection


@dataclass
class Session:
    """One driver, Ray Client session (its server on the head) or Ray Job driver."""

    job_id: str
    kind: str
    namespace: str
    pid: int | None
    node_ip: str
    entrypoint: str
    start_time: str  # ISO 8601, UTC
    alive: bool
    actors: dict[str, list[str]] = field(default_factory=dict)  # namespace -> its live detached actors
    is_self: bool = False

    @property
    def anonymous(self) -> bool:
        """Ray gives a driver that names no namespace a random UUID one."""
        return is_anonymous_namespace(self.namespace)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Sessions:
    sessions: list[Session]
    namespaces_read: bool  # False: the GCS job table could not be read (namespaces "unknown")
    note: str = ""  # why not
    detached: dict[str, list[str]] = field(default_factory=dict)  # every live detached actor, by namespace
    seedcore_jobs: set[str] = field(default_factory=set)  # jobs of seedcore's own CLI (tagged at connect)


def list_sessions(connection: Connection, include_finished: bool = False, timeout: float = 10.0) -> Sessions:
    url, source = state_api.dashboard_url_for(connection)
    if not url:
        raise state_api.no_dashboard()
    jobs = state_api.fetch_list(url, state_api.JOBS_ENDPOINT, [], limit=state_api.MAX_LIMIT, detail=True,
                                timeout=timeout, source=source, token=connection.token, http_timeout=timeout)["result"]
    actors = state_api.fetch_actors(url, [("state", "=", "ALIVE")], limit=state_api.MAX_LIMIT, detail=True,
                                    timeout=timeout, source=source, token=connection.token,
                                    http_timeout=timeout)["result"]
    namespaces, note = _namespaces(connection, timeout)
    owned: dict[str, dict[str, list[str]]] = {}
    detached: dict[str, list[str]] = {}
    for actor in actors:
        if actor.get("is_detached") and actor.get("name"):
            namespace = str(actor.get("ray_namespace") or "")
            owned.setdefault(str(actor.get("job_id") or ""), {}).setdefault(namespace, []).append(actor["name"])
            detached.setdefault(namespace, []).append(actor["name"])
    me = _own_job_id()
    found = [_session(job, namespaces, owned, me) for job in jobs if isinstance(job, dict)]
    sessions = [s for s in found if s is not None and (include_finished or s.alive)]
    sessions.sort(key=lambda s: (s.namespace, s.start_time, s.job_id))
    ours = {str(job.get("job_id")) for job in jobs if isinstance(job, dict)
            and SEEDCORE_TAG in (job.get("metadata") or {})}
    return Sessions(sessions, namespaces_read=namespaces is not None, note=note, detached=detached,
                    seedcore_jobs=ours)


def _namespaces(connection: Connection, timeout: float) -> tuple[dict[str, str] | None, str]:
    try:
        return ray_compat.job_namespaces(in_process=connection.mode != ConnectionMode.CLIENT, timeout=timeout), ""
    except ray_compat.ApiChanged as err:
        return None, str(err)
    except Exception as err:
        return None, f"the GCS job table could not be read ({type(err).__name__})"


def _own_job_id() -> str:
    import ray

    try:
        return ray.get_runtime_context().get_job_id()
    except Exception:
        return ""


def _session(job: dict[str, Any], namespaces: dict[str, str] | None, owned: dict, me: str) -> Session | None:
    job_id = str(job.get("job_id") or "")
    if not job_id:
        return None  # a submitted job whose driver has not started: no Ray job yet
    namespace = (namespaces or {}).get(job_id, UNKNOWN if namespaces is None else "")
    if namespace.startswith("_ray_internal"):
        return None  # the dashboard's own jobs
    entrypoint = str(job.get("entrypoint") or "")
    driver = job.get("driver_info") or {}
    if job.get("type") == "SUBMISSION":
        kind = JOB
    elif "ray.util.client.server" in entrypoint or "ray/util/client/server" in entrypoint:
        kind = CLIENT
    else:
        kind = DRIVER
    pid = state_api.as_int(driver.get("pid")) or None
    started = job.get("start_time")
    when = (datetime.fromtimestamp(started / 1000, timezone.utc).isoformat(timespec="seconds")
            if isinstance(started, (int, float)) and started > 0 else "")
    return Session(job_id=job_id, kind=kind, namespace=namespace or UNKNOWN, pid=pid,
                   node_ip=str(driver.get("node_ip_address") or ""), entrypoint=entrypoint, start_time=when,
                   alive=str(job.get("status") or "") in _LIVE_STATUS, actors=owned.get(job_id, {}),
                   is_self=bool(me) and job_id == me)


def summarise(found: Sessions, configured: str) -> tuple[str, list[str], list[str]]:
    """(counts per namespace, warnings, notes) for diagnose: a live SeedCore service (its
    entrypoint mentions seedcore) in another or an anonymous namespace; anonymous namespaces
    holding detached actors."""
    live = [s for s in found.sessions if s.alive]
    counts: dict[str, int] = {}
    for s in live:
        counts[s.namespace] = counts.get(s.namespace, 0) + 1
    line = ", ".join(f"{ns}: {n}" for ns, n in sorted(counts.items())) or "none"
    warnings = []
    for s in live:
        # seedcore's own CLI runs (tagged at connect) are operators' commands, not services
        if s.is_self or s.job_id in found.seedcore_jobs or "seedcore" not in s.entrypoint.lower() \
                or s.namespace == UNKNOWN:
            continue
        if s.anonymous or s.namespace != configured:
            what = "an anonymous namespace" if s.anonymous else f"namespace {s.namespace!r}"
            warnings.append(f"pid {s.pid} on {s.node_ip or '?'} runs in {what}, not {configured!r}: "
                            f"{s.entrypoint[:120]}")
    # every live detached actor counts, whether or not the driver that made it still runs
    anonymous = {ns: names for ns, names in found.detached.items() if is_anonymous_namespace(ns)}
    for ns, names in sorted(anonymous.items()):
        warnings.append(f"anonymous namespace {ns} holds detached actors {', '.join(sorted(names)[:5])}: no other "
                        "process can find them by name")
    notes = [] if found.namespaces_read else [f"namespaces unknown: {found.note}"]
    return line, warnings, notes

