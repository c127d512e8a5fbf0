"""`seedcore actors list` end to end: the real app against the session's loopback cluster.

Driver mode runs in-process (CliRunner); Ray Client mode runs the real `seedcore` in a child
process, by --address ray://... and by RAY_ADDRESS=ray://... (the trap: Ray's own State API
helpers raise "Ray Client is already connected" there). Rows are checked against Ray's
`ray.util.state.list_actors`.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import ray  # tests may import ray; conftest has set the loopback variable first
from support.heads import connect_to, free_port, run_client, run_seedcore, start_head, stop_head

from seedcore_cli.ray_boundary import connection

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROW_KEYS = {"name", "class_name", "state", "namespace", "node_id", "pid", "actor_id", "job_id", "num_restarts",
            "death_cause", "death_reason", "is_detached", "required_resources", "placement_group_id", "repr_name",
            "death_cause_detail"}


@ray.remote(num_cpus=0)
class Organ:
    def ping(self):
        return "pong"


def ray_rows(cluster, ns: str) -> list:
    from ray.util.state import list_actors

    return list_actors(address=cluster.dashboard_url, filters=[("ray_namespace", "=", ns)], detail=True,
                       limit=10_000, raise_on_missing_output=True)


@pytest.fixture(scope="module")
def deployment(ray_cluster):
    """A namespace holding two live detached actors and a killed one (3 actors)."""
    ns = f"t-cli-{uuid.uuid4().hex[:8]}"
    connect_to(ray_cluster, ns)
    handles = [Organ.options(name=name, lifetime="detached").remote()
               for name in ("miss_tracker", "beta_organ_1", "beta_organ_1_agent_0")]
    ray.get([h.ping.remote() for h in handles])
    ray.kill(handles[2], no_restart=True)
    deadline = time.monotonic() + 60
    while sorted(a.state for a in ray_rows(ray_cluster, ns)) != ["ALIVE", "ALIVE", "DEAD"]:
        assert time.monotonic() < deadline, "the killed actor never showed DEAD"
        time.sleep(0.25)
    connection.disconnect()
    yield ns
    connect_to(ray_cluster, ns)
    for name in ("miss_tracker", "beta_organ_1"):
        ray.kill(ray.get_actor(name, namespace=ns))
    connection.disconnect()


def args(cluster, ns: str, *rest: str, address: str | None = None) -> list[str]:
    return ["--address", address or cluster.gcs_address, "--namespace", ns, "actors", "list", *rest]


def test_json_rows_equal_ray_and_nothing_else_on_stdout(ray_cluster, deployment, cli):
    result = cli(args(ray_cluster, deployment, "-o", "json"))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rows = json.loads(result.stdout)  # the whole of stdout is the JSON document
    assert all(set(row) == ROW_KEYS for row in rows)
    expected = sorted(ray_rows(ray_cluster, deployment), key=lambda a: a.name)
    assert [(r["actor_id"], r["name"], r["class_name"], r["state"], r["namespace"], r["node_id"], r["pid"],
             r["is_detached"]) for r in rows] == [
        (a.actor_id, a.name, a.class_name, a.state, a.ray_namespace, a.node_id, a.pid, a.is_detached) for a in expected]
    assert [r["name"] for r in rows] == ["beta_organ_1", "beta_organ_1_agent_0", "miss_tracker"]
    dead = rows[1]
    assert dead["state"] == "DEAD" and "ray.kill" in dead["death_cause"] and dead["death_reason"] == "RAY_KILL"


def test_table_columns_and_detail(ray_cluster, deployment, cli):
    plain = cli(args(ray_cluster, deployment))
    assert plain.exit_code == 0, plain.stderr
    header = plain.stdout.splitlines()[1]
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == ["name", "class", "state", "namespace", "node", "pid"]
    assert "miss_tracker" in plain.stdout and "DEAD" in plain.stdout and "ray.kill" not in plain.stdout
    detail = cli(args(ray_cluster, deployment, "--detail", "--state", "dead"), env={"COLUMNS": "400"})  # no folding
    assert detail.exit_code == 0, detail.stderr
    assert "death cause" in detail.stdout and "actor id" in detail.stdout and "restarts" in detail.stdout
    assert "killed by `ray.kill`" in detail.stdout and "beta_organ_1_agent_0" in detail.stdout
    assert "miss_tracker" not in detail.stdout
    glob = cli(args(ray_cluster, deployment, "--name", "*_organ_*", "--class", "Organ", "-o", "json"))
    assert [r["name"] for r in json.loads(glob.stdout)] == ["beta_organ_1", "beta_organ_1_agent_0"]


def test_ray_client_mode_gives_the_same_rows(ray_cluster, deployment, cli):
    driver = cli(args(ray_cluster, deployment, "-o", "json"))
    assert driver.exit_code == 0, driver.stderr
    by_flag = run_client(args(ray_cluster, deployment, "-o", "json", address=ray_cluster.client_address))
    assert by_flag.returncode == 0, by_flag.stderr
    # The trap: RAY_ADDRESS=ray://... in the environment, where ray.util.state would call ray.init again.
    by_env = run_client(["--namespace", deployment, "-v", "actors", "list", "-o", "json"],
                        env={"RAY_ADDRESS": ray_cluster.client_address})
    assert by_env.returncode == 0, by_env.stderr
    assert "connected (client)" in by_env.stderr and "already connected" not in by_env.stderr
    assert json.loads(by_flag.stdout) == json.loads(driver.stdout) == json.loads(by_env.stdout)
    # and against Ray's own State API, read here, not only seedcore's driver-mode output
    expected = [(a.actor_id, a.name, a.class_name, a.state, a.ray_namespace, a.node_id, a.pid, a.is_detached)
                for a in sorted(ray_rows(ray_cluster, deployment), key=lambda a: a.name)]
    for client_rows in (json.loads(by_flag.stdout), json.loads(by_env.stdout)):
        assert [(r["actor_id"], r["name"], r["class_name"], r["state"], r["namespace"], r["node_id"], r["pid"],
                 r["is_detached"]) for r in client_rows] == expected


def test_names_with_rich_markup_show_literally(ray_cluster, namespace, cli):
    names = ["[bold]x[/bold]", "[prod]"]  # sorted
    connect_to(ray_cluster, namespace)
    handles = [Organ.options(name=name, lifetime="detached").remote() for name in names]
    try:
        ray.get([h.ping.remote() for h in handles])
        table = cli(args(ray_cluster, namespace), env={"COLUMNS": "400"})  # no folding
        assert table.exit_code == 0, table.stderr
        assert [line.split("│")[1].strip() for line in table.stdout.splitlines() if "│" in line] == names
        listed = cli(args(ray_cluster, namespace, "-o", "json"))
        assert listed.exit_code == 0, listed.stderr
        assert [r["name"] for r in json.loads(listed.stdout)] == names
        assert names == sorted(a.name for a in ray_rows(ray_cluster, namespace))
    finally:
        for handle in handles:
            ray.kill(handle)


def test_limit_note_on_stderr(ray_cluster, deployment, cli):
    result = cli(args(ray_cluster, deployment, "--limit", "1", "-o", "json"))
    assert result.exit_code == 0
    assert [r["name"] for r in json.loads(result.stdout)] == ["beta_organ_1"]
    assert "Showing 1 of 3 actors" in result.stderr
    table = cli(args(ray_cluster, deployment, "--limit", "2"))
    assert "Showing 2 of 3 actors" in table.stderr and "Showing" not in table.stdout
    full = cli(args(ray_cluster, deployment, "--limit", "3"))
    assert "Showing" not in full.stderr


def test_namespace_hint_when_the_namespace_is_empty(ray_cluster, deployment, namespace, cli):
    result = cli(args(ray_cluster, namespace, "-o", "json"))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert f"Hint: no matching actors in namespace {namespace!r}" in result.stderr
    assert f"namespace {deployment!r} holds beta_organ_1, miss_tracker" in result.stderr
    assert "--all-namespaces" in result.stderr
    asked = cli(args(ray_cluster, namespace, "--name", "beta_organ_1"))
    assert deployment in asked.stderr and "No actors matched" in asked.stderr and asked.stdout == ""
    nowhere = cli(args(ray_cluster, namespace, "--name", "no_such_actor"))
    assert nowhere.exit_code == 0 and "Hint" not in nowhere.stderr
    everywhere = cli(args(ray_cluster, namespace, "--all-namespaces", "-o", "json"))
    assert deployment in {r["namespace"] for r in json.loads(everywhere.stdout)} and "Hint" not in everywhere.stderr


@pytest.mark.parametrize("bad", [["--state", "BOGUS"], ["--limit", "0"], ["--limit", "10001"], ["--name", ""],
                                 ["--output", "yaml"], ["--bogus"]])
def test_bad_input_exits_2(ray_cluster, namespace, cli, bad):
    result = cli(args(ray_cluster, namespace, *bad))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_dashboard_unavailable_exits_3(ray_cluster, namespace, cli):
    closed = f"http://127.0.0.1:{free_port()}"
    result = cli(args(ray_cluster, namespace), env={"RAY_API_SERVER_ADDRESS": closed})
    assert result.exit_code == 3, result.stderr
    assert result.stderr.startswith("Error: the Ray dashboard at " + closed) and "RAY_API_SERVER_ADDRESS" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cluster_without_dashboard_exits_3(namespace):
    process, cluster = start_head(extra=["--include-dashboard=false"])
    try:
        result = run_seedcore(["--address", cluster.gcs_address, "--namespace", namespace, "actors", "list"])
        assert result.returncode == 3, result.stderr
        assert result.stderr.startswith("Error: the cluster reports no dashboard") and "--include-dashboard=true" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    finally:
        stop_head(process)


# ------------------------------------------------------------------------------------------
# Rendering (pure; the benchmark times `render_text` and `table_rows` with 5,000 rows)


def fake_rows(count: int, detail: bool = True):
    from seedcore_cli.organism import inventory

    entries = [{"actor_id": f"{i:032x}", "class_name": "Agent", "state": "DEAD" if i % 7 == 0 else "ALIVE",
                "job_id": "01000000", "name": f"organ{i % 9}_agent_{i}", "node_id": "ab" * 28, "pid": 1000 + i,
                "ray_namespace": f"ns{i % 3}", "required_resources": {"CPU": 0.5, "GPU": 1.0}, "is_detached": True,
                "num_restarts": "2", "death_cause": {"actor_died_error_context": {
                    "error_message": "The actor died\nbecause its node died.", "reason": "NODE_DIED"}} if i % 7 == 0 else None}
               for i in range(count)]
    return inventory.rows_from_api(entries, detail)


def test_table_rows_cells():
    from seedcore_cli.cli import actors

    columns, cells = actors.table_rows(fake_rows(8), detail=True)
    assert columns == ("name", "class", "state", "namespace", "node", "pid", "restarts", "death cause", "detached",
                       "resources", "actor id")
    assert cells[0] == ("organ0_agent_0", "Agent", "DEAD", "ns0", "abababab", "1000", "2",
                        "The actor died because its node died.", "yes", "CPU=0.5, GPU=1", "0" * 32)
    assert cells[1][7] == "-"
    brief_columns, brief = actors.table_rows(fake_rows(2, detail=False))
    assert brief_columns == actors.COLUMNS and all(len(row) == 6 for row in brief)


def test_large_listings_render_as_plain_columns():
    import io

    from rich.console import Console

    from seedcore_cli.cli import actors
    from seedcore_cli.cli.output import Consoles, OutputFormat
    from seedcore_cli.organism import inventory

    rows = fake_rows(actors.RICH_MAX_ROWS + 500)
    text = actors.render_text(rows, detail=True)
    lines = text.splitlines()
    assert len(lines) == len(rows) + 1 and lines[0].split()[:3] == ["name", "class", "state"]
    assert "│" not in text and "The actor died because its node died." in text
    small = actors.render_text(rows[:3])
    assert "┃ name" in small  # a screenful keeps the usual Rich table
    out, err = io.StringIO(), io.StringIO()
    consoles = Consoles(out=Console(file=out), err=Console(file=err))
    query = inventory.make_query(None, limit=len(rows), detail=True)
    actors.show(consoles, inventory.ActorListing(rows=rows, total=len(rows) + 5, query=query, dashboard_url="x"),
                OutputFormat.table, hint=None)
    assert out.getvalue() == text
    assert f"Showing {len(rows)} of {len(rows) + 5} actors" in err.getvalue()


@pytest.fixture
def junk_server():
    """A loopback TCP server that answers every connection with bytes that are not HTTP."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00\xff\xfe\x1b[31mjunk\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.mark.parametrize("where,code", [
    ("junk", 3),  # answers, but not HTTP
    ("gcs", 3),  # the GCS's gRPC port
    ("http://[::1", 2),  # no closing bracket
    ("http://127.0.0.1:notaport", 2),
    ("ftp://127.0.0.1:21", 2),
    ("http://" + "h" * 5000 + ":1", 2),  # a host name DNS cannot hold
    ("http://" + "h." * 30 + "invalid:1", 3),  # a well-formed name that does not resolve
])
def test_a_dashboard_url_that_is_not_http_is_one_clean_line(ray_cluster, namespace, cli, junk_server, where, code):
    url = {"junk": f"http://{junk_server}", "gcs": f"http://{ray_cluster.gcs_address}"}.get(where, where)
    result = cli(args(ray_cluster, namespace), env={"RAY_API_SERVER_ADDRESS": url})
    assert result.exit_code == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and result.stdout == ""
    assert lines[0].isprintable() and "internal error" not in lines[0] and len(lines[0]) < 500, lines[0]
