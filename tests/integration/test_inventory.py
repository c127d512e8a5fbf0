"""inventory: actor listing through the dashboard's State API, checked against Ray's own API.

Integration tests use the session's real loopback cluster. A module-scoped "deployment" holds
detached actors in every interesting state; Ray's `ray.util.state.list_actors` (driver mode, where
it works) is the reference for the rows. The only fake is a tiny loopback HTTP server standing in
for the dashboard, to see the headers sent and the answers to HTTP errors.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import http.server
import json
import threading
import time
import uuid

import pytest
import ray  # tests may import ray; conftest has set the loopback variable first
from support.heads import connect_to, free_port

from seedcore_cli.errors import BadInput, CannotConnect, DashboardUnavailable, OperationFailed
from seedcore_cli.organism import inventory
from seedcore_cli.ray_boundary import auth, connection, state_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ------------------------------------------------------------------------------------------
# Helpers


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"timed out waiting for {what}")


def ray_rows(cluster, filters) -> list:
    """Ray's own answer (the reference): every actor matching `filters`, with detail."""
    from ray.util.state import list_actors

    return list_actors(address=cluster.dashboard_url, filters=filters, detail=True, limit=10_000,
                       raise_on_missing_output=True)


def project_ours(row: inventory.ActorRow) -> tuple:
    return (row.actor_id, row.name, row.class_name, row.state, row.namespace, row.node_id, row.pid,
            row.job_id, row.num_restarts, row.is_detached, row.required_resources, row.death_cause_detail)


def project_ray(actor) -> tuple:
    return (actor.actor_id, actor.name or "", actor.class_name, actor.state, actor.ray_namespace,
            actor.node_id or "", actor.pid or 0, actor.job_id, int(actor.num_restarts), bool(actor.is_detached),
            dict(actor.required_resources or {}), without_pickle(actor.death_cause))


def without_pickle(cause):
    """Ray's death_cause minus the base64 pickle seedcore leaves out of its rows."""
    return {kind: {k: v for k, v in context.items() if k != "serialized_exception"}
            for kind, context in (cause or {}).items()} or None


def sort_like_seedcore(rows: list) -> list:
    return sorted(rows, key=lambda r: (r[4], r[1], r[0]))


def ray_states(cluster, ns: str) -> dict[str, str]:
    return {a.name or a.actor_id: a.state for a in ray_rows(cluster, [("ray_namespace", "=", ns)])}


@ray.remote(num_cpus=0)
class Organ:
    def ping(self):
        return "pong"


@ray.remote(num_cpus=0)
class Agent:
    def ping(self):
        return "pong"


@ray.remote(num_cpus=0, max_restarts=0)
class Broken:
    def __init__(self):
        raise ValueError("boom: bad organ config")

    def ping(self):
        return "never"


@dataclasses.dataclass
class Deployment:
    namespace: str
    names: dict[str, str]  # name -> expected final state


@pytest.fixture(scope="module")
def deployment(ray_cluster):
    """A namespace with live, killed, failed-at-creation and owner-died actors (6 actors).

    Detached actors outlive the connection that made them; the unnamed, non-detached one dies
    with its owner when that connection closes (another death cause).
    """
    ns = f"t-dep-{uuid.uuid4().hex[:8]}"
    connect_to(ray_cluster, ns)
    detached = dict(lifetime="detached")
    handles = {
        "miss_tracker": Organ.options(name="miss_tracker", **detached).remote(),
        "alpha_organ_1": Organ.options(name="alpha_organ_1", **detached).remote(),
        "alpha_organ_1_agent_0": Agent.options(name="alpha_organ_1_agent_0", **detached).remote(),
        "alpha_organ_1_agent_1": Agent.options(name="alpha_organ_1_agent_1", **detached).remote(),
        "broken_organ_9": Broken.options(name="broken_organ_9", **detached).remote(),
    }
    unnamed = Agent.remote()
    ray.get([handles[n].ping.remote() for n in handles if n != "broken_organ_9"] + [unnamed.ping.remote()])
    ray.kill(handles["alpha_organ_1_agent_1"], no_restart=True)
    connection.disconnect()  # the unnamed actor's owner goes away
    wait_for(lambda: sorted(ray_states(ray_cluster, ns).values()).count("DEAD") == 3, what="3 dead actors")
    yield Deployment(ns, {"miss_tracker": "ALIVE", "alpha_organ_1": "ALIVE", "alpha_organ_1_agent_0": "ALIVE",
                          "alpha_organ_1_agent_1": "DEAD", "broken_organ_9": "DEAD", "": "DEAD"})
    connect_to(ray_cluster, ns)
    for name in ("miss_tracker", "alpha_organ_1", "alpha_organ_1_agent_0"):
        ray.kill(ray.get_actor(name, namespace=ns))
    connection.disconnect()


# ------------------------------------------------------------------------------------------
# Against the real cluster


def test_rows_equal_ray_state_api_for_the_namespace(ray_cluster, deployment):
    conn = connect_to(ray_cluster, deployment.namespace)
    listing = inventory.list_actors(conn, detail=True)
    expected = sort_like_seedcore([project_ray(a) for a in ray_rows(ray_cluster, [("ray_namespace", "=", deployment.namespace)])])
    assert [project_ours(r) for r in listing.rows] == expected
    assert len(expected) == 6 and listing.total == 6 and not listing.cut and listing.shown_of() is None
    assert {r.name: r.state for r in listing.rows} == deployment.names
    assert [r.name for r in listing.rows] == sorted(deployment.names)  # sorted by name ('' first)
    assert listing.dashboard_url == ray_cluster.dashboard_url


@pytest.mark.parametrize(("kwargs", "ray_filters", "glob"), [
    (dict(states=["ALIVE"]), [("state", "=", "ALIVE")], None),
    (dict(states=["dead", "ALIVE"]), [], None),  # several states: every actor of these two
    (dict(class_name="Agent"), [("class_name", "=", "Agent")], None),
    (dict(name_globs=["alpha_organ_1"]), [("name", "=", "alpha_organ_1")], None),
    (dict(name_globs=["*_agent_*"]), [], "*_agent_*"),
    (dict(states=["ALIVE"], class_name="Agent", name_globs=["alpha_*"]), [("state", "=", "ALIVE"), ("class_name", "=", "Agent")], "alpha_*"),
])
def test_filters_give_the_same_rows_as_ray(ray_cluster, deployment, kwargs, ray_filters, glob):
    conn = connect_to(ray_cluster, deployment.namespace)
    listing = inventory.list_actors(conn, detail=True, **kwargs)
    reference = ray_rows(ray_cluster, [("ray_namespace", "=", deployment.namespace), *ray_filters])
    if glob:
        reference = [a for a in reference if fnmatch.fnmatchcase(a.name or "", glob)]
    expected = sort_like_seedcore([project_ray(a) for a in reference])
    assert expected, "the filter must select something, or the comparison proves nothing"
    assert [project_ours(r) for r in listing.rows] == expected
    assert listing.total == len(expected)


def test_all_namespaces_includes_other_namespaces_sorted(ray_cluster, deployment, namespace):
    conn = connect_to(ray_cluster, namespace)
    other = Organ.options(name="zeta_organ_2").remote()
    ray.get(other.ping.remote())
    try:
        listing = inventory.list_actors(conn, namespace=None, detail=True, limit=10_000)
        ours = {namespace, deployment.namespace}  # other tests' actors may still be dying
        expected = sort_like_seedcore([project_ray(a) for a in ray_rows(ray_cluster, []) if a.ray_namespace in ours])
        assert [project_ours(r) for r in listing.rows if r.namespace in ours] == expected
        assert len(expected) == 7
        spaces = {r.namespace for r in listing.rows}
        assert {namespace, deployment.namespace} <= spaces
        keys = [(r.namespace, r.name, r.actor_id) for r in listing.rows]
        assert keys == sorted(keys)
        mine = inventory.list_actors(conn)  # the default: the connection's namespace only
        assert [r.name for r in mine.rows] == ["zeta_organ_2"]
    finally:
        ray.kill(other)


def test_dead_actors_carry_their_death_cause(ray_cluster, deployment):
    conn = connect_to(ray_cluster, deployment.namespace)
    rows = {r.name: r for r in inventory.list_actors(conn, states=["DEAD"], detail=True).rows}
    assert set(rows) == {"alpha_organ_1_agent_1", "broken_organ_9", ""}
    killed = rows["alpha_organ_1_agent_1"]
    assert killed.death_reason == "RAY_KILL" and "ray.kill" in killed.death_cause
    failed = rows["broken_organ_9"]
    assert "ValueError: boom: bad organ config" in failed.death_cause
    assert "\n" not in failed.death_cause  # the traceback is summed up in one line
    orphan = rows[""]
    assert orphan.death_cause and orphan.death_reason and orphan.death_reason != "RAY_KILL"
    alive = inventory.list_actors(conn, name_globs=["miss_tracker"], detail=True).rows[0]
    assert alive.death_cause is None and alive.is_detached is True
    brief = inventory.list_actors(conn, states=["DEAD"]).rows  # without detail: no detail fields
    assert all(r.death_cause is None and r.num_restarts is None for r in brief)


def test_limit_cuts_after_sorting_and_counts_every_match(ray_cluster, deployment):
    conn = connect_to(ray_cluster, deployment.namespace)
    listing = inventory.list_actors(conn, limit=2)
    assert [r.name for r in listing.rows] == ["", "alpha_organ_1"]  # first two by name, not by id
    assert listing.total == 6 and listing.cut
    assert listing.shown_of() == "showing 2 of 6 actors"
    globbed = inventory.list_actors(conn, name_globs=["*organ*"], limit=1)
    assert [r.name for r in globbed.rows] == ["alpha_organ_1"] and globbed.total == 4


def test_namespaces_holding_and_the_hint(ray_cluster, deployment, namespace):
    conn = connect_to(ray_cluster, namespace)
    holding = inventory.namespaces_holding(conn)
    assert holding[deployment.namespace] == ["alpha_organ_1", "alpha_organ_1_agent_0", "miss_tracker"]  # live only
    assert namespace not in holding
    with_dead = inventory.namespaces_holding(conn, ["*_agent_*"], include_dead=True)
    assert with_dead[deployment.namespace] == ["alpha_organ_1_agent_0", "alpha_organ_1_agent_1"]
    hint = inventory.namespace_hint(conn, namespace)
    assert f"namespace {deployment.namespace!r}" in hint.text and f"no matching actors in namespace {namespace!r}" in hint.text
    assert hint.namespace == deployment.namespace
    assert inventory.namespace_hint(conn, namespace, ["alpha_organ_1"]).namespace == deployment.namespace
    assert inventory.namespace_hint(conn, namespace, ["no_such_actor_*"]) is None
    assert inventory.namespace_hint(conn, deployment.namespace, ["broken_organ_9"]) is None  # dead: no hint


def test_check_dashboard(ray_cluster):
    ok = state_api.check_dashboard(ray_cluster.dashboard_url)
    assert ok.ok and ok.url == ray_cluster.dashboard_url and "State API answers" in ok.detail
    closed = f"http://127.0.0.1:{free_port()}"
    bad = state_api.check_dashboard(closed)
    assert not bad.ok and closed in bad.detail and bad.hint
    none = state_api.check_dashboard("")
    assert not none.ok and "no dashboard" in none.detail


def test_closed_dashboard_port_is_unavailable_naming_the_url(ray_cluster, namespace):
    conn = connect_to(ray_cluster, namespace)
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(DashboardUnavailable) as err:
        inventory.list_actors(dataclasses.replace(conn, dashboard_url=closed))
    assert closed in err.value.message and err.value.exit_code == 3 and err.value.hint
    with pytest.raises(DashboardUnavailable) as err:  # RAY_API_SERVER_ADDRESS wins, and is named
        inventory.list_actors(dataclasses.replace(conn, api_server_address=closed))
    assert closed in err.value.message and "RAY_API_SERVER_ADDRESS" in err.value.message
    with pytest.raises(DashboardUnavailable) as err:
        inventory.list_actors(dataclasses.replace(conn, dashboard_url=""))
    assert "no dashboard" in err.value.message and "include-dashboard" in err.value.hint
    # and the override reaches a working dashboard even when the cluster reported none
    listing = inventory.list_actors(dataclasses.replace(conn, dashboard_url="",
                                                        api_server_address=ray_cluster.dashboard_url.removeprefix("http://")))
    assert listing.rows == [] and listing.dashboard_url == ray_cluster.dashboard_url


def test_inventory_does_not_import_ray():
    import subprocess
    import sys

    code = "import sys, seedcore_cli.organism.inventory, seedcore_cli.cli.actors; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------
# A fake dashboard on loopback: headers and HTTP errors


class FakeDashboard:
    """Answers /api/v0/actors with a canned status and body; records the requests.

    With `token` set it answers 401 unless the request carries `Bearer <token>` (a cluster with
    token auth); with `forward_to` set it relays the request to that real dashboard.
    """

    def __init__(self):
        self.status = 200
        self.body: bytes = b""
        self.requests: list[tuple[str, dict]] = []
        self.queued: list[tuple[int, bytes]] = []  # answered first, in order
        self.token: str | None = None
        self.forward_to: str | None = None
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append((self.path, dict(self.headers)))
                if fake.token and self.headers.get("Authorization") != f"Bearer {fake.token}":
                    status, body = 401, b"Unauthorized: Missing authentication token"
                elif fake.forward_to:
                    import urllib.request

                    with urllib.request.urlopen(fake.forward_to + self.path, timeout=30) as real:
                        status, body = real.status, real.read()
                else:
                    status, body = fake.queued.pop(0) if fake.queued else (fake.status, fake.body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, entries, total=None, num_filtered=None, warning=""):
        self.status = 200
        self.body = json.dumps({"result": True, "msg": "", "data": {"result": {
            "total": len(entries) if total is None else total,
            "num_after_truncation": len(entries) if total is None else min(total, inventory.MAX_LIMIT),
            "num_filtered": len(entries) if num_filtered is None else num_filtered, "result": entries,
            "partial_failure_warning": warning, "warnings": None}}}).encode()


@pytest.fixture
def fake_dashboard():
    fake = FakeDashboard()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def fake_connection(url: str, namespace: str = "seedcore-dev"):
    return connection.Connection(
        address="", address_source="test", resolved_address="127.0.0.1:1", mode="driver", namespace=namespace,
        namespace_source="test", dashboard_url=url, local_ray_version="", local_python_version="",
        cluster_ray_version="", cluster_python_version="", connect_seconds=0.0)


def entry(name, ns="seedcore-dev", state="ALIVE", actor_id=None):
    return {"actor_id": actor_id or uuid.uuid4().hex[:32], "class_name": "Organ", "state": state, "job_id": "01000000",
            "name": name, "node_id": "ab" * 28, "pid": 7, "ray_namespace": ns}


def test_request_is_the_state_api_list_call(fake_dashboard):
    fake_dashboard.answer([entry("b"), entry("a")])
    conn = fake_connection(fake_dashboard.url)
    listing = inventory.list_actors(conn, states=["ALIVE", "DEAD"], class_name="Organ", name_globs=["a"])
    path, headers = fake_dashboard.requests[-1]
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(path)
    query = parse_qs(parts.query)
    assert parts.path == "/api/v0/actors"
    assert query["limit"] == [str(inventory.MAX_LIMIT)] and query["detail"] == ["false"]
    triples = list(zip(query["filter_keys"], query["filter_predicates"], query["filter_values"]))
    assert triples == [("ray_namespace", "=", "seedcore-dev"), ("state", "!=", "DEPENDENCIES_UNREADY"),
                       ("state", "!=", "PENDING_CREATION"), ("state", "!=", "RESTARTING"),
                       ("class_name", "=", "Organ"), ("name", "=", "a")]
    assert "Authorization" not in headers
    assert [r.name for r in listing.rows] == ["a"]  # rows re-checked here: the fake ignores filters


def test_auth_token_is_sent_as_bearer_and_never_shown(fake_dashboard, tmp_path):
    fake_dashboard.answer([])
    conn = fake_connection(fake_dashboard.url)
    inventory.list_actors(dataclasses.replace(conn, token=auth.token_to_send({"RAY_AUTH_TOKEN": "s3cret-token"})))
    assert "Authorization" not in fake_dashboard.requests[-1][1]  # not in token mode: never sent
    inventory.list_actors(dataclasses.replace(conn, token=auth.token_to_send({"RAY_AUTH_TOKEN": "s3cret-token", "RAY_AUTH_MODE": "token"})))
    assert fake_dashboard.requests[-1][1]["Authorization"] == "Bearer s3cret-token"
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    inventory.list_actors(dataclasses.replace(conn, token=auth.token_to_send({"RAY_AUTH_TOKEN_PATH": str(token_file), "RAY_AUTH_MODE": "token"})))
    assert fake_dashboard.requests[-1][1]["Authorization"] == "Bearer from-file"
    fake_dashboard.status, fake_dashboard.body = 401, b"Unauthorized: Missing authentication token"
    with pytest.raises(CannotConnect) as err:
        inventory.list_actors(dataclasses.replace(conn, token=auth.token_to_send({"RAY_AUTH_TOKEN": "s3cret-token", "RAY_AUTH_MODE": "token"})))
    assert err.value.exit_code == 3 and "RAY_AUTH_TOKEN" in err.value.hint
    assert "s3cret" not in err.value.one_line() and fake_dashboard.url in err.value.message


def test_http_errors_map_to_exit_codes(fake_dashboard):
    conn = fake_connection(fake_dashboard.url)
    fake_dashboard.status = 500
    fake_dashboard.body = json.dumps({"result": False, "msg": "GCS query failed", "data": {"result": None}}).encode()
    with pytest.raises(OperationFailed) as err:
        inventory.list_actors(conn)
    assert "GCS query failed" in err.value.message and err.value.exit_code == 1
    fake_dashboard.status, fake_dashboard.body = 404, b"not found"
    with pytest.raises(DashboardUnavailable, match="no State API"):
        inventory.list_actors(conn)
    fake_dashboard.status, fake_dashboard.body = 200, b"<html>grafana</html>"
    with pytest.raises(DashboardUnavailable, match="not with the State API"):
        inventory.list_actors(conn)


def test_a_lower_server_limit_is_honoured(fake_dashboard):
    refusal = {"result": False, "data": {"result": None},
               "msg": "Given limit 10000 exceeds the supported limit 500. Use a lower limit, or set the "
                      "`RAY_MAX_LIMIT_FROM_API_SERVER` environment variable to a larger value."}
    fake_dashboard.queued.append((500, json.dumps(refusal).encode()))
    fake_dashboard.answer([entry("a")])
    listing = inventory.list_actors(fake_connection(fake_dashboard.url))
    assert [r.name for r in listing.rows] == ["a"]
    from urllib.parse import parse_qs, urlsplit

    limits = [parse_qs(urlsplit(path).query)["limit"] for path, _ in fake_dashboard.requests]
    assert limits == [["10000"], ["500"]]


def test_partial_answers_are_flagged(fake_dashboard):
    conn = fake_connection(fake_dashboard.url)
    fake_dashboard.answer([entry("a")], total=50_000, num_filtered=20_000, warning="a raylet did not answer")
    listing = inventory.list_actors(conn)
    assert not listing.total_exact and listing.total == 20_000
    assert "showing 1 of at least 20000" in listing.shown_of()
    assert any("raylet" in w for w in listing.warnings) and any("50000" in w for w in listing.warnings)


# ------------------------------------------------------------------------------------------
# Pure helpers


def test_bad_filters_are_bad_input():
    for kwargs in (dict(states=["BOGUS"]), dict(limit=0), dict(limit=inventory.MAX_LIMIT + 1),
                   dict(name_globs=[""]), dict(class_name="")):
        with pytest.raises(BadInput) as err:
            inventory.make_query("ns", **kwargs)
        assert err.value.exit_code == 2


def test_death_cause_summaries():
    killed = {"actor_died_error_context": {"error_message": "The actor is dead because it was killed by `ray.kill`.",
                                           "reason": "RAY_KILL"}}
    assert inventory._death(killed) == ("The actor is dead because it was killed by `ray.kill`.", "RAY_KILL")
    failed = {"creation_task_failure_context": {"formatted_exception_string": "Traceback (most recent call last):\n\n  File x\nValueError: boom\n",
                                                "serialized_exception": "gAWV", "language": "PYTHON"}}
    assert inventory._death(failed) == ("ValueError: boom", "creation_task_failure_context")
    env = {"runtime_env_failed_context": {"error_message": "pip\ninstall failed"}}
    assert inventory._death(env) == ("pip install failed", "runtime_env_failed_context")
    assert inventory._death(None) == (None, None) and inventory._death({}) == (None, None)


def test_select_filters_sorts_and_limits_exactly():
    rows = inventory.rows_from_api([entry("b", "ns2"), entry("a", "ns2"), entry("z", "ns1"), entry("A", "ns1"),
                                    entry("x_organ_1", "ns1", state="DEAD")], detail=False)
    query = inventory.make_query(None, limit=3)
    kept, total = inventory.select(rows, query)
    assert [(r.namespace, r.name) for r in kept] == [("ns1", "A"), ("ns1", "x_organ_1"), ("ns1", "z")] and total == 5
    kept, total = inventory.select(rows, inventory.make_query("ns2", name_globs=["A"]))  # case-sensitive
    assert kept == [] and total == 0
    kept, _ = inventory.select(rows, inventory.make_query(None, states=["dead"], name_globs=["*_organ_*"]))
    assert [r.name for r in kept] == ["x_organ_1"]


# ------------------------------------------------------------------------------------------
# The organism's State API reads go through the same client (RAY_API_SERVER_ADDRESS, the token)


def test_organism_state_api_reads_use_inventorys_client(fake_dashboard, monkeypatch):
    from seedcore_cli.ray_boundary.cluster import RayCluster

    killed = {"actor_died_error_context": {"error_message": "The actor is dead because it was killed by `ray.kill`.",
                                           "reason": "RAY_KILL"}}
    fake_dashboard.answer([{**entry("mw", ns="ns-a", state="DEAD"), "death_cause": killed, "is_detached": True}])
    fake_dashboard.token = "s3cret-token"
    # RAY_API_SERVER_ADDRESS wins over what the cluster reported; the token is the one connect()
    # settled for a cluster that wants one (both carried by the Connection)
    conn = dataclasses.replace(fake_connection(f"http://127.0.0.1:{free_port()}", namespace="ns-a"),
                               api_server_address=fake_dashboard.url, token=auth.Token("s3cret-token", "RAY_AUTH_TOKEN"))
    (row,) = RayCluster(conn).state_actors("ns-a", timeout=5)
    assert (row.name, row.state, row.is_detached, row.death_reason) == ("mw", "DEAD", True, "RAY_KILL")
    assert row.death_cause == "The actor is dead because it was killed by `ray.kill`."  # inventory's parser
    path, headers = fake_dashboard.requests[-1]
    assert headers["Authorization"] == "Bearer s3cret-token"
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(path).query)
    assert list(zip(query["filter_keys"], query["filter_values"])) == [("ray_namespace", "ns-a")]
    conn = dataclasses.replace(conn, token=None)
    assert RayCluster(conn).state_actors("ns-a", timeout=5) is None  # refused: best effort, no raise


def test_status_and_inspect_keep_the_state_api_behind_token_auth(ray_cluster, namespace, fake_dashboard,
                                                                 monkeypatch):
    from support.organism import kill_namespace

    from seedcore_cli.organism import singletons, status

    conn = connect_to(ray_cluster, namespace)
    try:
        singletons.ensure(conn)
        ray.kill(ray.get_actor("mw", namespace=namespace), no_restart=True)
        wait_for(lambda: ray_states(ray_cluster, namespace).get("mw") == "DEAD", what="mw dead")
        # A dashboard that demands a token, in front of the real one, named by RAY_API_SERVER_ADDRESS;
        # the URL the cluster reported is closed, so only the override can answer.
        fake_dashboard.forward_to, fake_dashboard.token = ray_cluster.dashboard_url, "s3cret-token"
        behind = dataclasses.replace(conn, dashboard_url=f"http://127.0.0.1:{free_port()}",
                                     api_server_address=fake_dashboard.url,
                                     token=auth.Token("s3cret-token", "RAY_AUTH_TOKEN"))
        health = status.collect(behind, timeout=5)
        mw = {item.name: item for item in health.singletons}["mw"]
        assert health.state_api is True and mw.state == "dead" and "killed by `ray.kill`" in mw.error
        cache = {item.name: item for item in status.collect(behind, timeout=5, organs=False).singletons}["shared_cache"]
        assert cache.healthy and cache.detached is True
        assert fake_dashboard.requests and all(h.get("Authorization") == "Bearer s3cret-token"
                                               for _, h in fake_dashboard.requests)

        behind = dataclasses.replace(behind, token=None)  # without the token the State API is lost: the contrast
        health = status.collect(behind, timeout=5)
        assert health.state_api is False
        assert {item.name: item for item in health.singletons}["mw"].state == "missing"
        assert {item.name: item for item in status.collect(behind, timeout=5, organs=False).singletons
                }["shared_cache"].detached is None
    finally:
        kill_namespace(namespace)
