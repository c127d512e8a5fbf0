"""deploy/kubernetes: the manifests parse, and what they ask of seedcore is what seedcore accepts.

There is no Kubernetes cluster here, so these checks stand in for applying them: every seedcore
command line in a container or a RayJob entrypoint goes through seedcore's own parser (without
connecting), every variable set for seedcore is one it reads (found by scanning its source), the
address resolves, with seedcore's own resolver, to the client port of the head service of the
RayCluster defined here, the token comes from that cluster's Secret, and every Ray image is the Ray
this checkout is installed with. In-process and fast: no Ray cluster, no network.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shlex
import sys
from pathlib import Path

import pytest
import typer
import typer.main
import yaml
from typer.core import TyperGroup
from typer.testing import CliRunner

from seedcore_cli import __version__ as SEEDCORE_VERSION
from seedcore_cli import settings as settings_mod
from seedcore_cli.cli import context as cli_context
from seedcore_cli.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "kubernetes"
PACKAGE = ROOT / "seedcore_cli"
README = ROOT / "README.md"
RAY_VERSION = importlib.metadata.version("ray")
STOCK_IMAGE = "rayproject/ray"
CLI_IMAGE = "seedcore-cli"
CLIENT_PORT = 10001
TOKEN_KEY = "auth_token"  # KubeRay's RAY_AUTH_TOKEN_SECRET_KEY
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*[A-Za-z0-9]$")


# ---- reading the directory ------------------------------------------------------------------

def _manifest_files() -> list[Path]:
    return sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def _documents() -> list[tuple[str, dict]]:
    found = []
    for path in _manifest_files():
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                found.append((f"{path.name}#{i}", doc))
    return found


def _of_kind(kind: str) -> list[dict]:
    return [doc for _, doc in _documents() if doc.get("kind") == kind]


def _dockerfile() -> dict[str, list[str]]:
    """Each Dockerfile instruction (upper case) -> its arguments, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.setdefault(word.upper(), []).append(rest.strip())
    return found


def _pod_specs(doc: dict) -> list[tuple[str, dict]]:
    """(where, pod spec) for the workload kinds used here."""
    kind, spec = doc["kind"], doc.get("spec", {})
    name = doc["metadata"]["name"]
    if kind == "Job":
        return [(f"Job {name}", spec["template"]["spec"])]
    if kind == "CronJob":
        return [(f"CronJob {name}", spec["jobTemplate"]["spec"]["template"]["spec"])]
    if kind == "RayCluster":
        pods = [(f"RayCluster {name} head", spec["headGroupSpec"]["template"]["spec"])]
        pods += [(f"RayCluster {name} group {g['groupName']}", g["template"]["spec"])
                 for g in spec.get("workerGroupSpecs", [])]
        return pods
    if kind == "RayJob" and "submitterPodTemplate" in spec:
        return [(f"RayJob {name} submitter", spec["submitterPodTemplate"]["spec"])]
    return []


def _containers() -> list[tuple[str, dict]]:
    return [(f"{where} container {c['name']}", c)
            for _, doc in _documents() for where, pod in _pod_specs(doc)
            for c in [*pod.get("initContainers", []), *pod["containers"]]]


def _image_tag(image: str) -> tuple[str, str]:
    repo, _, tag = image.rpartition(":")
    return repo, tag


def _argv(container: dict) -> list[str]:
    """What the container runs: command + args; without a command, the image's ENTRYPOINT."""
    command = container.get("command")
    if command is None and _image_tag(container["image"])[0].endswith(CLI_IMAGE):
        command = json.loads(_dockerfile()["ENTRYPOINT"][-1])
    return [*(command or []), *container.get("args", [])]


def _invocations() -> list[tuple[str, list[str], dict[str, dict]]]:
    """(where, argv, env entries by name) of every seedcore command line in the manifests."""
    found = []
    for where, container in _containers():
        argv = _argv(container)
        if _mentions_seedcore(argv):
            found.append((where, argv, {e["name"]: e for e in container.get("env", [])}))
    for job in _of_kind("RayJob"):
        argv = shlex.split(job["spec"]["entrypoint"])
        runtime_env = yaml.safe_load(job["spec"].get("runtimeEnvYAML") or "{}") or {}
        env = {k: {"name": k, "value": v} for k, v in runtime_env.get("env_vars", {}).items()}
        found.append((f"RayJob {job['metadata']['name']} entrypoint", argv, env))
    return found


def _mentions_seedcore(argv: list[str]) -> bool:
    return any(re.search(r"(^|[\s;&|/])seedcore(\s|$)", part) for part in argv)


def _cluster() -> dict:
    clusters = _of_kind("RayCluster")
    assert len(clusters) == 1, f"expected one RayCluster in {DEPLOY}, found {len(clusters)}"
    return clusters[0]


# ---- what seedcore reads, from its source -----------------------------------------------------

def _names_seedcore_reads() -> set[str]:
    """Variable names seedcore's source reads: literals looked up in something called environ (or
    getenv), assigned to an *_ENV constant / ENV_KEYS / WATCHED, given as typer's envvar=, or set
    as keywords of dict(os.environ, ...)."""
    names: set[str] = set()

    def strings(node: ast.AST) -> set[str]:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    def about_environ(node: ast.AST) -> bool:
        return "environ" in ast.unparse(node) or "getenv" in ast.unparse(node)

    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    targets = target.elts if isinstance(target, ast.Tuple) else [target]
                    if any(isinstance(t, ast.Name) and (t.id.endswith("_ENV") or t.id in ("ENV_KEYS", "WATCHED"))
                           for t in targets):
                        names |= strings(node.value)
            elif isinstance(node, ast.keyword) and node.arg == "envvar":
                names |= strings(node.value)
            elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
                if node.func.attr in ("get", "setdefault", "pop") and about_environ(node.func.value):
                    names |= strings(node.args[0])
                if node.func.attr == "getenv":
                    names |= strings(node.args[0])
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
                if node.args and about_environ(node.args[0]):
                    names |= {k.arg for k in node.keywords if k.arg}
            elif isinstance(node, ast.Subscript) and about_environ(node.value):
                names |= strings(node.slice)
            elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In) for op in node.ops):
                if any(about_environ(c) for c in node.comparators):
                    names |= strings(node.left)
    return {n for n in names if ENV_NAME.match(n)}


def _ray_names_documented() -> set[str]:
    """Ray's own RAY_* names the README's Configuration section tells seedcore users to set."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`(RAY_[A-Z0-9_]*[A-Z0-9])`", section))


def test_the_source_scan_finds_what_seedcore_is_known_to_read():
    # guards the scanner: an empty or partial set would let a misspelt name through
    assert {"RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
            "RAY_AUTH_MODE", "SEEDCORE_ORGANISM_CONFIG", "RAY_USE_TLS", "RAY_TLS_CA_CERT",
            "SEEDCORE_CONNECT_TIMEOUT", "SEEDCORE_DEBUG", "NO_COLOR"} <= _names_seedcore_reads()
    assert "SEEDCORE_NAMESPACE" not in _names_seedcore_reads()


# ---- the checks -------------------------------------------------------------------------------

def test_every_document_is_a_named_kubernetes_object():
    docs = _documents()
    assert {doc["kind"] for _, doc in docs} >= {"RayCluster", "Job", "CronJob", "RayJob"}
    for where, doc in docs:
        assert isinstance(doc, dict), where
        for key in ("apiVersion", "kind"):
            assert isinstance(doc.get(key), str) and doc[key], f"{where}: no {key}"
        assert (doc.get("metadata") or {}).get("name"), f"{where}: no metadata.name"
        if doc["kind"] in ("RayCluster", "RayJob"):
            assert doc["apiVersion"] == "ray.io/v1", where


def test_kustomization_lists_files_that_exist():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert all((DEPLOY / name).is_file() for name in resources), resources
    listed_kinds = {doc["kind"] for name in resources for doc in yaml.safe_load_all((DEPLOY / name).read_text())}
    assert listed_kinds == {"RayCluster", "ConfigMap", "Job", "CronJob"}  # the RayJob needs seedcore on the head


def test_the_manifests_run_seedcore_where_expected():
    invocations = {" ".join(where.split()[:2]): argv[1:] for where, argv, _ in _invocations()}
    assert invocations == {
        "Job seedcore-bootstrap": ["bootstrap", "-o", "json"],
        "CronJob seedcore-status": ["organism", "status", "-o", "json"],
        "RayJob seedcore-bootstrap-rayjob": ["bootstrap", "-o", "json"],
    }


def _parse(argv: list[str]) -> list[str]:
    """Parse a seedcore command line with seedcore's own Click command, the subcommand chain
    included, without running any command body. Returns the command path."""
    assert Path(argv[0]).name == "seedcore", argv
    command = typer.main.get_command(app)
    args = list(argv[1:])
    ctx = command.make_context("seedcore", args, resilient_parsing=False)
    path = ["seedcore"]
    while isinstance(command, TyperGroup):
        # A group leaves the words after its subcommand's name in ctx.args; the name itself is the
        # word just before them (public API only: Click keeps it in a private attribute).
        name = args[len(args) - len(ctx.args) - 1]
        _, command, args = command.resolve_command(ctx, [name, *ctx.args])
        ctx = command.make_context(name, args, parent=ctx, resilient_parsing=False)
        path.append(name)
    assert not ctx.args, f"{argv}: left over {ctx.args}"
    return path


@pytest.fixture
def no_connect(monkeypatch):
    """Record, instead of making, the one connection @connects makes before a command's body."""
    calls: list[str | None] = []

    def refuse(app_state, namespace, start_local, tolerate_failure, **_):
        calls.append(namespace)
        raise typer.Exit(99)

    monkeypatch.setattr(cli_context, "connect_once", refuse)
    monkeypatch.delenv("SEEDCORE_ORGANISM_CONFIG", raising=False)  # --config reads it while parsing
    return calls


def test_every_seedcore_command_line_parses_without_connecting(no_connect):
    ray_before = "ray" in sys.modules
    for where, argv, _ in _invocations():
        try:
            path = _parse(argv)
        except (typer.Exit, Exception) as err:  # Click's UsageError, SeedcoreError from a callback
            pytest.fail(f"{where}: seedcore does not accept {shlex.join(argv)}: {type(err).__name__}: {err}")
        assert len(path) >= 2, f"{where}: {argv} names no command"
    assert no_connect == [], "parsing alone connected"
    if not ray_before:
        assert "ray" not in sys.modules, "parsing imported ray"


def test_the_parser_check_can_fail(no_connect):
    for bad in (["seedcore", "bootstrapp"], ["seedcore", "organism", "statuss"],
                ["seedcore", "organism", "status", "-o", "yaml"], ["seedcore", "bootstrap", "--no-such-flag"]):
        with pytest.raises(Exception):
            _parse(bad)


def test_running_the_same_command_line_would_connect_once(no_connect):
    # the other side of "parsing does not connect": running the body goes through @connects
    for _, argv, _ in _invocations():
        no_connect.clear()
        result = CliRunner().invoke(app, argv[1:])
        assert result.exit_code == 99 and len(no_connect) == 1, (argv, result.output)


def test_every_variable_set_for_seedcore_is_one_seedcore_reads():
    known = _names_seedcore_reads() | _ray_names_documented()
    for where, _, env in _invocations():
        unknown = sorted(set(env) - known)
        assert not unknown, f"{where}: seedcore reads no {unknown} (it reads {sorted(known)})"


def test_the_address_is_the_client_port_of_the_head_service(tmp_path):
    cluster = _cluster()
    head_service = f"{cluster['metadata']['name']}-head-svc"  # the Service KubeRay creates
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert CLIENT_PORT in [p["containerPort"] for p in head.get("ports", [])]
    namespaces = set()
    for where, _, env in _invocations():
        if where.startswith("RayJob"):
            assert "RAY_ADDRESS" not in env, f"{where}: Ray's job manager sets RAY_ADDRESS for the driver"
            namespaces.add(env["SEEDCORE_NS"]["value"])
            continue
        # without RAY_ADDRESS, `bootstrap` would start a local cluster inside the pod
        literal = {name: e["value"] for name, e in env.items() if "value" in e}
        assert "RAY_ADDRESS" in literal and "SEEDCORE_NS" in literal, where
        resolved = settings_mod.resolve(environ=literal, cwd=tmp_path)
        target = resolved.target
        assert target.kind == "client", f"{where}: {literal['RAY_ADDRESS']} is not a Ray Client address"
        assert target.host == head_service or target.host.startswith(head_service + "."), (where, target.host)
        assert target.port == CLIENT_PORT, where
        assert (resolved.namespace.value, resolved.namespace.source) == (literal["SEEDCORE_NS"], "SEEDCORE_NS")
        namespaces.add(resolved.namespace.value)
    assert len(namespaces) == 1, f"the manifests use different SeedCore namespaces: {sorted(namespaces)}"


def test_the_token_comes_from_the_clusters_secret():
    cluster = _cluster()
    auth = cluster["spec"].get("authOptions") or {}
    assert auth.get("mode") == "token", "token authentication is off"
    secret = auth.get("secretName", cluster["metadata"]["name"])  # KubeRay's own Secret is named after the cluster
    for where, _, env in _invocations():
        if where.startswith("RayJob"):
            assert "RAY_AUTH_TOKEN" not in env, f"{where}: the driver inherits the head's token"
            continue
        entry = env.get("RAY_AUTH_TOKEN")
        assert entry is not None, f"{where}: no RAY_AUTH_TOKEN"
        assert "value" not in entry, f"{where}: a literal token"
        ref = entry["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == (secret, TOKEN_KEY), where
    for where, container in _containers():
        assert all(not (e["name"] == "RAY_AUTH_TOKEN" and "value" in e) for e in container.get("env", [])), where


def test_every_ray_image_is_the_installed_ray():
    cluster = _cluster()
    assert str(cluster["spec"]["rayVersion"]) == RAY_VERSION
    images = [(where, c["image"]) for where, c in _containers()]
    assert any(_image_tag(i)[0] == STOCK_IMAGE for _, i in images)
    for where, image in images:
        repo, tag = _image_tag(image)
        if repo == STOCK_IMAGE:
            assert tag == RAY_VERSION, f"{where}: {image}, but seedcore runs Ray {RAY_VERSION}"
        else:
            assert repo.endswith(CLI_IMAGE), f"{where}: unexpected image {image}"
            assert tag == f"{SEEDCORE_VERSION}-ray{RAY_VERSION}", f"{where}: {image}"


def test_the_cli_image_is_built_on_the_clusters_ray():
    dockerfile = _dockerfile()
    assert dockerfile["FROM"] == [f"{STOCK_IMAGE}:{RAY_VERSION}"]
    run = " ".join(dockerfile["RUN"])
    assert f'"ray[default]=={RAY_VERSION}"' in run, "pip may swap the base image's Ray"
    assert json.loads(dockerfile["ENTRYPOINT"][-1]) == ["seedcore"]
    assert dockerfile["USER"][-1] not in ("root", "0"), "the image must run as the base image's non-root user"
    copied = " ".join(dockerfile["COPY"])
    for needed in ("pyproject.toml", "README.md", "seedcore_cli/"):
        assert needed in copied, needed


def test_the_head_offers_no_cpu_and_workers_do():
    spec = _cluster()["spec"]
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # a string, as KubeRay wants
    groups = spec["workerGroupSpecs"]
    assert groups and all(g["replicas"] >= 1 and g["rayStartParams"].get("num-cpus") != "0" for g in groups)


def test_the_rayjob_targets_the_cluster_defined_here():
    name = _cluster()["metadata"]["name"]
    for job in _of_kind("RayJob"):
        assert job["spec"]["clusterSelector"] == {"ray.io/cluster": name}
        assert "rayClusterSpec" not in job["spec"]
        assert not job["spec"].get("shutdownAfterJobFinishes", False)
        assert job["metadata"]["name"] not in {j["metadata"]["name"] for j in _of_kind("Job")}, \
            "KubeRay names its submitter Job after the RayJob"


def test_the_readme_explains_it_and_says_it_is_untested_on_a_live_cluster():
    text = README.read_text()
    assert text.startswith("# seedcore\n")
    assert "\n## Running on Kubernetes\n" in text
    section = text.split("\n## Running on Kubernetes\n", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"not exercised on a live\s+Kubernetes\s+cluster", section), \
        "the section must say the manifests were never applied to a live cluster"
    for path in [*DEPLOY.iterdir()]:
        if path.name != "Dockerfile.dockerignore":
            assert path.name in section, f"the README section does not mention {path.name}"
    assert "kubectl ray get token" in section


def test_the_jobs_create_and_check_the_organism_of_the_configmap():
    """The bootstrap Job and the status CronJob read the organism from the ConfigMap they mount,
    and that config is one seedcore accepts (else both would run the packaged default)."""
    from seedcore_cli.organism import config

    maps = {doc["metadata"]["name"]: doc for doc in _of_kind("ConfigMap")}
    organism = config.parse(maps["seedcore-organism"]["data"]["organism.yaml"], "the ConfigMap", environ={})
    assert len(organism.organs) >= 1 and organism.source == "the ConfigMap"
    for kind in ("Job", "CronJob"):
        for doc in _of_kind(kind):
            for where, pod in _pod_specs(doc):
                volumes = {v["name"]: v for v in pod.get("volumes", [])}
                for container in pod["containers"]:
                    env = {e["name"]: e.get("value") for e in container.get("env", [])}
                    path = env.get(config.CONFIG_ENV)
                    assert path, f"{where}: no {config.CONFIG_ENV}: it would use the packaged default organism"
                    mounts = [m for m in container.get("volumeMounts", []) if path.startswith(m["mountPath"] + "/")]
                    assert len(mounts) == 1, f"{where}: {path} is on no mounted volume"
                    volume = volumes[mounts[0]["name"]]
                    assert volume["configMap"]["name"] == "seedcore-organism", where
                    key = path[len(mounts[0]["mountPath"]) + 1:]
                    assert key in maps["seedcore-organism"]["data"], f"{where}: the ConfigMap has no {key}"
