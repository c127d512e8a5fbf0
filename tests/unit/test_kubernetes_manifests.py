"""deploy/kubernetes: what `kubectl apply -k` would send, checked as far as a machine without a
Kubernetes cluster can.

Every kustomization (the base, ha/, rayjob/) is rendered, with `kubectl kustomize` where kubectl is
installed and otherwise with a small test-only renderer (the two are compared where both run). Then:
every object is validated against the Kubernetes API's own schema (the upstream OpenAPI schemas
shipped by kubernetes-validate, strict: unknown fields rejected; pod templates inside KubeRay's
objects too), every pod any object makes meets Pod Security "restricted", the RayCluster and RayJob
use only fields of KubeRay's documented API that v1.5.1 has, and seedcore's side holds: every
seedcore command line goes through seedcore's own parser (without connecting), every variable set
for seedcore is one it reads (found by scanning its source), the address resolves, with seedcore's
own resolver, to the client port of the head service of the RayCluster defined here, the token comes
from that cluster's Secret, every path bootstraps and checks the same organism, and every Ray image
is the Ray this checkout is installed with. The Dockerfile is parsed (BuildKit's own parser, from
the `dockerfile` package) and checked statically: it cannot be built here (no Docker engine, no
registry to pull the base image from). In-process and fast: no Ray cluster, no network.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import importlib.metadata
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import dockerfile
import kubernetes_validate
import pytest
import typer
import typer.main
import yaml
from kubernetes_support import (
    KUBERAY_FIELDS,
    containers_of,
    effective_user,
    kuberay_fields_used,
    pod_specs,
    read_only_root,
    render_in_python,
    render_with_kubectl,
    restricted_violations,
    type_problem,
    version_tuple,
    writable_at,
)
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from typer.core import TyperGroup
from typer.testing import CliRunner

from seedcore_cli import __version__ as SEEDCORE_VERSION
from seedcore_cli import settings as settings_mod
from seedcore_cli.cli import context as cli_context
from seedcore_cli.cli.app import app

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
PACKAGE = ROOT / "seedcore_cli"
README = ROOT / "README.md"
DOCS = ROOT / "docs" / "kubernetes.md"
RAY_VERSION = importlib.metadata.version("ray")
STOCK_IMAGE = "rayproject/ray"
CLI_IMAGE = "seedcore-cli"
CLIENT_PORT = 10001
TOKEN_KEY = "auth_token"  # KubeRay's RAY_AUTH_TOKEN_SECRET_KEY
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*[A-Za-z0-9]$")
RAY_UID, RAY_GID = 1000, 100  # the user "ray" of rayproject/ray (Ray's docker/base-deps Dockerfile)
# The kustomizations and the oldest KubeRay each must work with. A variant that needs a newer
# KubeRay says so in its name (e.g. kuberay-v1.6/) and gets its own floor here.
KUBERAY_FLOOR = {"": "1.5.1", "ha": "1.5.1", "rayjob": "1.5.1"}
# Kubernetes versions to validate against: the oldest the docs name and the newest kubernetes-validate
# ships. Up to 1.28 the published schema marks a podFailurePolicy rule's onPodConditions as required
# (the API server defaults it; not verifiable here), so 1.29 is the oldest whose schema says yes.
K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
# Secrets the manifests reference but never contain: KubeRay's token Secret (named after the
# cluster) and the Redis password, which the operator creates by hand (docs/kubernetes.md).
HAND_MADE_SECRETS = {"seedcore-redis": "password"}


# ---- rendering ----------------------------------------------------------------------------------

def _kustomizations() -> list[str]:
    """Every directory under deploy/kubernetes with a kustomization, relative ('' for the root)."""
    found = (str(p.parent.relative_to(DEPLOY)) for p in DEPLOY.rglob("kustomization.yaml"))
    return sorted("" if name == "." else name for name in found)


@functools.cache
def _render(name: str) -> tuple[dict, ...]:
    directory = DEPLOY / name
    docs = render_with_kubectl(directory) if shutil.which("kubectl") else render_in_python(directory)
    return tuple(docs)


def _documents(name: str) -> list[tuple[str, dict]]:
    return [(f"{name or 'base'}: {d['kind']} {d['metadata']['name']}", d) for d in _render(name)]


def _every_document() -> list[tuple[str, dict]]:
    return [found for name in _kustomizations() for found in _documents(name)]


def _of_kind(name: str, kind: str) -> list[dict]:
    return [doc for _, doc in _documents(name) if doc.get("kind") == kind]


def _pods(name: str) -> list[tuple[str, dict, dict]]:
    """(where, pod spec, the object) of every pod the kustomization's objects make."""
    return [(f"{name or 'base'}: {where}", pod, doc) for _, doc in _documents(name) for where, pod in pod_specs(doc)]


def _containers(name: str) -> list[tuple[str, dict]]:
    return [(f"{where} container {c['name']}", c) for where, pod, _ in _pods(name) for c in containers_of(pod)]


def _image_tag(image: str) -> tuple[str, str]:
    repo, _, tag = image.rpartition(":")
    return repo, tag


def _dockerfile() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(DEPLOY / "Dockerfile")))


def _instructions(cmd: str) -> list[dockerfile.Command]:
    return [c for c in _dockerfile() if c.cmd.upper() == cmd]


def _argv(container: dict) -> list[str]:
    """What the container runs: command + args; without a command, the image's ENTRYPOINT."""
    command = container.get("command")
    if command is None and _image_tag(container["image"])[0].endswith(CLI_IMAGE):
        command = list(_instructions("ENTRYPOINT")[-1].value)
    return [*(command or []), *container.get("args", [])]


def _runtime_env(job: dict) -> dict:
    return yaml.safe_load(job["spec"].get("runtimeEnvYAML") or "{}") or {}


def _invocations(name: str) -> list[tuple[str, list[str], dict[str, dict]]]:
    """(where, argv, env entries by name) of every seedcore command line in a kustomization."""
    found = []
    for where, pod, doc in _pods(name):
        for container in containers_of(pod):
            if doc["kind"] in KUBERAY_FIELDS and container is pod["containers"][0] and "command" not in container:
                continue  # KubeRay writes this container's command: `ray start ...`, `ray job submit ...`
            argv = _argv(container)
            if _mentions_seedcore(argv):
                found.append((f"{where} container {container['name']}", argv,
                              {e["name"]: e for e in container.get("env", [])}))
    for job in _of_kind(name, "RayJob"):
        argv = shlex.split(job["spec"]["entrypoint"])
        env = {k: {"name": k, "value": v} for k, v in _runtime_env(job).get("env_vars", {}).items()}
        found.append((f"{name or 'base'}: RayJob {job['metadata']['name']} entrypoint", argv, env))
    return found


def _every_invocation() -> list[tuple[str, list[str], dict[str, dict]]]:
    return [found for name in _kustomizations() for found in _invocations(name)]


def _mentions_seedcore(argv: list[str]) -> bool:
    return any(re.search(r"(^|[\s;&|/])seedcore(\s|$)", part) for part in argv)


def _cluster(name: str) -> dict:
    clusters = _of_kind(name, "RayCluster")
    assert len(clusters) == 1, f"expected one RayCluster in {name or 'base'}, found {len(clusters)}"
    return clusters[0]


# ---- what seedcore reads, from its source -----------------------------------------------------

def _names_seedcore_reads() -> set[str]:
    """Variable names seedcore's source reads: literals looked up in something called environ (or
    getenv), assigned to an *_ENV constant / ENV_KEYS / WATCHED, given as typer's envvar=, or set
    as keywords of dict(os.environ, ...)."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names |= _names_read_by(node)
    return {n for n in names if ENV_NAME.match(n)}


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _about_environ(node: ast.AST) -> bool:
    return "environ" in ast.unparse(node) or "getenv" in ast.unparse(node)


def _names_read_by(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Assign):
        targets = [t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
        if any(isinstance(t, ast.Name) and (t.id.endswith("_ENV") or t.id in ("ENV_KEYS", "WATCHED")) for t in targets):
            return _strings(node.value)
    elif isinstance(node, ast.keyword) and node.arg == "envvar":
        return _strings(node.value)
    elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
        if (node.func.attr in ("get", "setdefault", "pop") and _about_environ(node.func.value)) or node.func.attr == "getenv":
            return _strings(node.args[0])
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        if node.args and _about_environ(node.args[0]):
            return {k.arg for k in node.keywords if k.arg}
    elif isinstance(node, ast.Subscript) and _about_environ(node.value):
        return _strings(node.slice)
    elif (isinstance(node, ast.Compare) and any(isinstance(op, ast.In) for op in node.ops)
          and any(_about_environ(c) for c in node.comparators)):
        return _strings(node.left)
    return set()


def _ray_names_documented() -> set[str]:
    """Ray's own RAY_* names the user documentation's Configuration section tells seedcore users to
    set (README.md, or a docs/ page once the reference moves there)."""
    names: set[str] = set()
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text() if page.is_file() else ""
        for section in re.split(r"\n## ", text)[1:]:
            if section.startswith("Configuration"):
                names |= set(re.findall(r"`(RAY_[A-Z0-9_]*[A-Z0-9])`", section))
    return names


def test_the_source_scan_finds_what_seedcore_is_known_to_read():
    # guards the scanner: an empty or partial set would let a misspelt name through
    assert {"RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
            "RAY_AUTH_MODE", "SEEDCORE_ORGANISM_CONFIG", "RAY_USE_TLS", "RAY_TLS_CA_CERT",
            "SEEDCORE_CONNECT_TIMEOUT", "SEEDCORE_DEBUG", "NO_COLOR"} <= _names_seedcore_reads()
    assert "SEEDCORE_NAMESPACE" not in _names_seedcore_reads()
    assert "RAY_API_SERVER_ADDRESS" in _ray_names_documented() | _names_seedcore_reads()


# ---- the kustomizations -------------------------------------------------------------------------

def test_the_kustomizations_are_the_base_and_its_variants():
    assert _kustomizations() == ["", "base", "ha", "rayjob"]
    kinds = {name: sorted(d["kind"] for d in _render(name)) for name in _kustomizations()}
    assert kinds[""] == kinds["base"] == ["ConfigMap", "CronJob", "Job", "RayCluster"]
    assert kinds["ha"] == ["ConfigMap", "CronJob", "Job", "RayCluster", "Service", "StatefulSet"]
    assert kinds["rayjob"] == ["ConfigMap", "CronJob", "RayCluster", "RayJob"]  # the RayJob replaces the Job


def test_every_manifest_file_is_used_by_a_kustomization():
    used = set()
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        used |= {(kustomization.parent / r).resolve() for r in spec.get("resources", [])}
        used |= {(kustomization.parent / p["path"]).resolve() for p in spec.get("patches", []) if "path" in p}
    for path in DEPLOY.rglob("*.yaml"):
        assert path.name == "kustomization.yaml" or path.resolve() in used, f"{path} is in no kustomization"


def test_every_document_is_a_named_kubernetes_object():
    docs = _every_document()
    assert {doc["kind"] for _, doc in docs} >= {"RayCluster", "Job", "CronJob", "RayJob", "StatefulSet", "Service"}
    for where, doc in docs:
        assert isinstance(doc, dict), where
        for key in ("apiVersion", "kind"):
            assert isinstance(doc.get(key), str) and doc[key], f"{where}: no {key}"
        assert (doc.get("metadata") or {}).get("name"), f"{where}: no metadata.name"
        assert "namespace" not in doc["metadata"], f"{where}: `kubectl apply -n` chooses the namespace"
        if doc["kind"] in ("RayCluster", "RayJob"):
            assert doc["apiVersion"] == "ray.io/v1", where


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed: rendered with the test-only renderer alone")
@pytest.mark.parametrize("name", _kustomizations(), ids=lambda name: name or "root")
def test_the_test_only_renderer_agrees_with_kubectl_kustomize(name):
    def keyed(docs):
        return {(d["apiVersion"], d["kind"], d["metadata"]["name"]): d for d in docs}

    assert keyed(render_in_python(DEPLOY / name)) == keyed(render_with_kubectl(DEPLOY / name))


def test_the_test_only_renderer_refuses_what_it_does_not_know(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\nnamePrefix: x-\n")
    with pytest.raises(NotImplementedError):
        render_in_python(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\npatches: [{path: p.yaml}]\n")
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "p.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    with pytest.raises(ValueError, match="matches nothing"):
        render_in_python(tmp_path)


# ---- the Kubernetes API's schema ---------------------------------------------------------------

def _validate(doc: dict, version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def _pod_template(template: dict, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": name}, "template": template}


def _as_kubernetes(path: str, value: dict, k8s_type: str) -> dict:
    """A Kubernetes object that holds `value` where the API has a field of type k8s_type."""
    if k8s_type == "PodTemplateSpec":
        return _pod_template(value, "t")
    container = {"name": "c", "image": "i"}
    if k8s_type == "EnvVarSource":
        container["env"] = [{"name": "V", "valueFrom": value}]
    elif k8s_type == "SecurityContext":
        container["securityContext"] = value
    elif k8s_type == "ResourceRequirements":
        container["resources"] = value
    else:
        raise AssertionError(f"{path}: no way to validate a {k8s_type}")
    return _pod_template({"spec": {"containers": [container]}}, "t")


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_passes_the_kubernetes_api_schema(version):
    checked = 0
    for where, doc in _every_document():
        if doc["kind"] in KUBERAY_FIELDS:
            try:  # a custom resource's metadata is an ObjectMeta all the same
                _validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]}, version)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{where} metadata, Kubernetes {version}: {err.message}")
            for path, value, field in kuberay_fields_used(doc):
                if field is not None and isinstance(field.type, str) and field.type[0].isupper():
                    try:
                        _validate(_as_kubernetes(path, value, field.type), version)
                    except kubernetes_validate.ValidationError as err:
                        pytest.fail(f"{where} {path} (a {field.type}), Kubernetes {version}: {err.message} at {list(err.path)}")
                    checked += 1
            continue
        try:
            _validate(doc, version)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{where}, Kubernetes {version}: {err.message} at {list(err.path)}")
        checked += 1
    assert checked >= 12


def test_the_schema_check_can_fail():
    job = next(doc for _, doc in _documents("") if doc["kind"] == "Job")
    bad = json.loads(json.dumps(job))
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(bad, K8S_VERSIONS[-1])
    template = _cluster("")["spec"]["headGroupSpec"]["template"]
    wrong = json.loads(json.dumps(template))
    wrong["spec"]["containers"][0]["resources"]["limits"]["memory"] = {"Gi": 4}
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(_pod_template(wrong, "t"), K8S_VERSIONS[-1])


# ---- KubeRay's API ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", _kustomizations(), ids=lambda name: name or "root")
def test_kuberay_objects_use_only_documented_fields_of_their_kuberay_version(name):
    floor = KUBERAY_FLOOR[name.split("/")[0] if name != "base" else ""]
    for where, doc in _documents(name):
        if doc["kind"] not in KUBERAY_FIELDS:
            continue
        assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}, where
        for path, value, field in kuberay_fields_used(doc):
            assert field is not None, f"{where}: {path} is not a KubeRay field this project knows (kubernetes_support.py)"
            assert version_tuple(field.since) <= version_tuple(floor), \
                f"{where}: {path} needs KubeRay v{field.since}, this kustomization promises v{floor}"
            problem = type_problem(value, field)
            assert problem is None, f"{where}: {path}: {problem}"


def test_the_kuberay_check_can_fail():
    cluster = json.loads(json.dumps(_cluster("")))
    cluster["spec"]["upgradeStrategy"] = {"type": "Recreate"}
    cluster["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0
    cluster["spec"]["workerGroupSpecs"][0]["minReplica"] = 1
    found = {path: field for path, _, field in kuberay_fields_used(cluster)}
    assert found["spec.upgradeStrategy"].since == "1.6.0"
    assert found["spec.workerGroupSpecs[].minReplica"] is None
    number = next(f for p, v, f in kuberay_fields_used(cluster) if p == "spec.headGroupSpec.rayStartParams")
    assert type_problem({"num-cpus": 0}, number) is not None


def test_every_kustomization_has_a_kuberay_floor():
    assert set(KUBERAY_FLOOR) == {name for name in _kustomizations() if name != "base"}


# ---- Pod Security "restricted" ------------------------------------------------------------------

def test_every_pod_meets_pod_security_restricted():
    count = 0
    for name in _kustomizations():
        for where, pod, doc in _pods(name):
            annotations = (doc.get("spec", {}).get("template", {}).get("metadata") or {}).get("annotations")
            assert restricted_violations(pod, annotations) == [], where
            count += 1
        for cluster in _of_kind(name, "RayCluster"):
            if cluster["spec"].get("enableInTreeAutoscaling"):
                # KubeRay adds the autoscaler sidecar to the head with this securityContext
                sidecar = {"name": "autoscaler",
                           "securityContext": (cluster["spec"].get("autoscalerOptions") or {}).get("securityContext")}
                head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
                assert restricted_violations({**head, "containers": [sidecar]}) == [], "autoscaler sidecar"
    # head and worker pods, the Job (or the RayJob's submitter) and the CronJob; Redis in ha/
    assert count == 4 * len(_kustomizations()) + 1


BREACHES = {
    "escalation": lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
    "drop-not-all": lambda p: p["containers"][0]["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
    "add-capability": lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
    "no-seccomp": lambda p: (p["securityContext"].pop("seccompProfile"),
                             p["containers"][0]["securityContext"].pop("seccompProfile")),
    "unconfined": lambda p: p["containers"][0]["securityContext"].update(seccompProfile={"type": "Unconfined"}),
    "no-run-as-non-root": lambda p: (p["securityContext"].pop("runAsNonRoot"),
                                     p["containers"][0]["securityContext"].pop("runAsNonRoot")),
    "root": lambda p: p["containers"][0]["securityContext"].update(runAsUser=0),
    "privileged": lambda p: p["containers"][0]["securityContext"].update(privileged=True),
    "host-network": lambda p: p.update(hostNetwork=True),
    "host-path": lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
    "host-port": lambda p: p["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]),
    "bare-init-container": lambda p: p.update(initContainers=[{"name": "init", "image": "busybox"}]),
}


@pytest.mark.parametrize("breach", BREACHES.values(), ids=BREACHES.keys())
def test_the_restricted_check_can_fail(breach):
    pod = json.loads(json.dumps(next(pod for _, pod, _ in _pods("") if pod.get("restartPolicy"))))
    assert restricted_violations(pod) == []
    breach(pod)
    assert restricted_violations(pod) != []


def test_no_pod_gets_a_service_account_token():
    # no pod here calls the Kubernetes API (no autoscaler; seedcore and Redis talk to Ray and Redis)
    for name in _kustomizations():
        for where, pod, _ in _pods(name):
            assert pod.get("automountServiceAccountToken") is False, where


def test_every_container_runs_as_a_numeric_non_root_user():
    for name in _kustomizations():
        for where, pod, _ in _pods(name):
            for container in containers_of(pod):
                uid = effective_user(container, pod)
                assert isinstance(uid, int) and not isinstance(uid, bool) and uid > 0, \
                    f"{where} {container['name']}: runAsUser {uid!r} (images name their user; the kubelet needs a number)"


def test_the_ray_pods_keep_what_ray_needs():
    """The Ray image's user is ray (uid 1000, gid 100) and its Python lives in its home: Ray needs a
    writable session directory /tmp/ray and a writable home."""
    ray_pods = 0
    for name in _kustomizations():
        for where, pod, doc in _pods(name):
            if doc["kind"] != "RayCluster":
                continue
            ray_pods += 1
            container = pod["containers"][0]
            assert effective_user(container, pod) == RAY_UID, where
            assert (pod["securityContext"].get("runAsGroup"), pod["securityContext"].get("fsGroup")) == (RAY_GID, RAY_GID), where
            assert writable_at("/tmp/ray", container, pod) == "emptyDir", f"{where}: /tmp/ray is no writable emptyDir"
            assert writable_at("/home/ray/.ray", container, pod) is not None, f"{where}: the home is not writable"
            assert writable_at("/home/ray/anaconda3", container, pod) == "root filesystem", \
                f"{where}: the image's Python (in the home) is hidden by a volume"
    assert ray_pods >= 2 * len(_kustomizations())


def test_the_writable_check_can_fail():
    container = {"name": "c", "securityContext": {"readOnlyRootFilesystem": True},
                 "volumeMounts": [{"name": "cfg", "mountPath": "/tmp/ray"}]}
    pod = {"volumes": [{"name": "cfg", "configMap": {"name": "x"}}], "containers": [container]}
    assert writable_at("/tmp/ray", container, pod) is None
    assert writable_at("/home/ray", container, pod) is None


def test_seedcore_pods_have_a_read_only_root_and_writable_scratch():
    for name in _kustomizations():
        for where, container in _containers(name):
            if _image_tag(container["image"])[0].endswith(CLI_IMAGE) and "RayCluster" not in where:
                pod = next(pod for w, pod, _ in _pods(name) if where.startswith(w + " "))
                assert read_only_root(container), where
                assert writable_at("/tmp", container, pod) == "emptyDir", where
                assert writable_at("/home/ray/.ray", container, pod) == "emptyDir", where


# ---- the Ray cluster ----------------------------------------------------------------------------

def test_worker_replicas_are_what_the_cluster_does():
    for name in _kustomizations():
        spec = _cluster(name)["spec"]
        for group in spec["workerGroupSpecs"]:
            low, want, high = group["minReplicas"], group["replicas"], group["maxReplicas"]
            if spec.get("enableInTreeAutoscaling"):
                assert 0 <= low <= want <= high and high > low, (name, group["groupName"])
            else:  # without the autoscaler nothing ever scales: maxReplicas would promise pods that never come
                assert low == want == high >= 1, (name, group["groupName"], low, want, high)


def test_the_head_offers_no_cpu_and_workers_do():
    for name in _kustomizations():
        spec = _cluster(name)["spec"]
        assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # a string, as KubeRay wants
        groups = spec["workerGroupSpecs"]
        assert groups and all(g["replicas"] >= 1 and g["rayStartParams"].get("num-cpus") != "0" for g in groups)


def test_the_ha_variant_wires_the_gcs_to_its_redis():
    cluster = _cluster("ha")
    ft = cluster["spec"]["gcsFaultToleranceOptions"]
    assert ft["externalStorageNamespace"], "every RayCluster sharing a Redis needs its own namespace"
    host, _, port = ft["redisAddress"].rpartition(":")
    services = {s["metadata"]["name"]: s for s in _of_kind("ha", "Service")}
    assert host in services, f"{ft['redisAddress']}: no such Service in ha/"
    service = services[host]
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    (redis,) = _of_kind("ha", "StatefulSet")
    template = redis["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    assert redis["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    container = template["spec"]["containers"][0]
    target = next(p for p in service["spec"]["ports"] if p["port"] == int(port))["targetPort"]
    assert target in [p.get("name") for p in container["ports"]] + [p["containerPort"] for p in container["ports"]]
    # one password: the Secret the GCS reads is the one Redis requires
    ref = ft["redisPassword"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) in HAND_MADE_SECRETS.items()
    redis_env = {e["name"]: e for e in container["env"]}
    assert redis_env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == ref
    assert "requirepass" in " ".join(container["args"]) and "$REDIS_PASSWORD" in " ".join(container["args"])
    assert "redis-password" not in cluster["spec"]["headGroupSpec"]["rayStartParams"]  # KubeRay refuses both
    # persistent: a restarted Redis pod must find the GCS state again
    assert "--appendonly yes" in " ".join(container["args"])
    data = next(m for m in container["volumeMounts"] if m["mountPath"] == "/data")
    assert data["name"] in [t["metadata"]["name"] for t in redis["spec"]["volumeClaimTemplates"]]
    assert redis["spec"]["replicas"] == 1  # KubeRay supports a standalone Redis
    # what tests/integration/test_kubernetes_redis.py runs (ha/redis.yaml as written) is what is applied
    written = [d for d in yaml.safe_load_all((DEPLOY / "ha" / "redis.yaml").read_text()) if d and d["kind"] == "StatefulSet"]
    assert written == [redis]
    # the rest of ha/ is the base, unchanged
    base = {(d["kind"], d["metadata"]["name"]): d for d in _render("")}
    for doc in _render("ha"):
        key = (doc["kind"], doc["metadata"]["name"])
        if key in base and doc["kind"] != "RayCluster":
            assert doc == base[key], key
    without_ft = json.loads(json.dumps(cluster))
    del without_ft["spec"]["gcsFaultToleranceOptions"]
    assert without_ft == base[("RayCluster", "seedcore")]


def test_no_secret_is_in_the_manifests_and_every_reference_is_known():
    for where, doc in _every_document():
        assert doc["kind"] != "Secret", f"{where}: secrets are made in the cluster, not kept in git"
    for name in _kustomizations():
        known = {_cluster(name)["metadata"]["name"]: TOKEN_KEY, **HAND_MADE_SECRETS}
        maps = {d["metadata"]["name"]: d for d in _of_kind(name, "ConfigMap")}
        text = json.dumps(list(_render(name)))
        for ref in re.findall(r'"secretKeyRef": \{[^}]*\}', text):
            ref = json.loads(ref.split(": ", 1)[1])
            assert known.get(ref["name"]) == ref["key"], (name, ref)
        for ref in re.findall(r'"configMap": \{[^}]*\}', text):
            assert json.loads(ref.split(": ", 1)[1])["name"] in maps, (name, ref)


# ---- seedcore's side ----------------------------------------------------------------------------

def test_the_manifests_run_seedcore_where_expected():
    def invocations(name):
        return {" ".join(where.split(": ", 1)[1].split()[:2]): argv[1:] for where, argv, _ in _invocations(name)}

    cronjob = {"CronJob seedcore-status": ["organism", "status", "-o", "json"]}
    for name in ("", "base", "ha"):
        assert invocations(name) == {"Job seedcore-bootstrap": ["bootstrap", "-o", "json"], **cronjob}, name
    assert invocations("rayjob") == {"RayJob seedcore-bootstrap-rayjob": ["bootstrap", "-o", "json"], **cronjob}


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
    """Record, instead of making, the one connection a command asks the Application for."""
    calls: list[str | None] = []

    def refuse(application, namespace, start_local, wait_at_most):
        calls.append(namespace)
        raise typer.Exit(99)

    monkeypatch.setattr(cli_context.Application, "_attempt", refuse)
    monkeypatch.delenv("SEEDCORE_ORGANISM_CONFIG", raising=False)  # --config reads it while parsing
    return calls


def test_every_seedcore_command_line_parses_without_connecting(no_connect):
    ray_before = "ray" in sys.modules
    for where, argv, _ in _every_invocation():
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
        with pytest.raises(Exception):  # noqa: B017 - Click's UsageError or a SeedcoreError, whichever comes first
            _parse(bad)


def test_running_the_same_command_line_would_connect_once(no_connect):
    # the other side of "parsing does not connect": running the body goes through @connects
    for _, argv, _ in _every_invocation():
        no_connect.clear()
        result = CliRunner().invoke(app, argv[1:])
        assert result.exit_code == 99 and len(no_connect) == 1, (argv, result.output)


def test_every_variable_set_for_seedcore_is_one_seedcore_reads():
    known = _names_seedcore_reads() | _ray_names_documented()
    for where, _, env in _every_invocation():
        unknown = sorted(set(env) - known)
        assert not unknown, f"{where}: seedcore reads no {unknown} (it reads {sorted(known)})"


def test_the_address_is_the_client_port_of_the_head_service(tmp_path):
    namespaces = set()
    for name in _kustomizations():
        cluster = _cluster(name)
        head_service = f"{cluster['metadata']['name']}-head-svc"  # the Service KubeRay creates
        head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
        assert CLIENT_PORT in [p["containerPort"] for p in head.get("ports", [])]
        for where, _, env in _invocations(name):
            if "RayJob" in where:
                assert "RAY_ADDRESS" not in env, f"{where}: Ray's job manager sets RAY_ADDRESS for the driver"
                namespaces.add(env["SEEDCORE_NS"]["value"])
                continue
            # without RAY_ADDRESS, `bootstrap` would start a local cluster inside the pod
            literal = {k: e["value"] for k, e in env.items() if "value" in e}
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
    for name in _kustomizations():
        cluster = _cluster(name)
        auth = cluster["spec"].get("authOptions") or {}
        assert auth.get("mode") == "token", "token authentication is off"
        assert "secretName" not in auth, "the token Secret is KubeRay's generated one (docs/kubernetes.md)"
        secret = cluster["metadata"]["name"]  # KubeRay's own Secret is named after the cluster
        for where, _, env in _invocations(name):
            if "RayJob" in where:
                assert "RAY_AUTH_TOKEN" not in env, f"{where}: the driver inherits the head's token"
                continue
            entry = env.get("RAY_AUTH_TOKEN")
            assert entry is not None, f"{where}: no RAY_AUTH_TOKEN"
            assert "value" not in entry, f"{where}: a literal token"
            ref = entry["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (secret, TOKEN_KEY), where
        for where, container in _containers(name):
            assert all(not (e["name"] == "RAY_AUTH_TOKEN" and "value" in e) for e in container.get("env", [])), where


def test_every_ray_image_is_the_installed_ray():
    for name in _kustomizations():
        assert str(_cluster(name)["spec"]["rayVersion"]) == RAY_VERSION
        images = [(where, c["image"]) for where, c in _containers(name)]
        assert any(_image_tag(i)[0] == STOCK_IMAGE for _, i in images)
        for where, image in images:
            repo, tag = _image_tag(image)
            if repo == STOCK_IMAGE:
                assert tag == RAY_VERSION, f"{where}: {image}, but seedcore runs Ray {RAY_VERSION}"
            elif repo.endswith(CLI_IMAGE):
                assert tag == f"{SEEDCORE_VERSION}-ray{RAY_VERSION}", f"{where}: {image}"
            else:  # not Ray's (Redis): any image, pinned to a release
                assert "Ray" not in where and tag and tag != "latest", f"{where}: unexpected image {image}"


def test_the_rayjob_variant_runs_seedcore_on_a_head_that_has_it():
    cluster = _cluster("rayjob")
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    assert _image_tag(head["containers"][0]["image"])[0].endswith(CLI_IMAGE), "the entrypoint runs on the head"
    workers = {c["image"] for g in cluster["spec"]["workerGroupSpecs"] for c in g["template"]["spec"]["containers"]}
    assert workers == {f"{STOCK_IMAGE}:{RAY_VERSION}"}  # the CLI image is FROM it: same Ray, same Python
    base_jobs = {j["metadata"]["name"] for j in _of_kind("", "Job")}
    for job in _of_kind("rayjob", "RayJob"):
        assert job["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
        assert "rayClusterSpec" not in job["spec"]
        assert not job["spec"].get("shutdownAfterJobFinishes", False)
        assert job["metadata"]["name"] not in base_jobs, "KubeRay names its submitter Job after the RayJob"
        assert job["spec"].get("submissionMode", "K8sJobMode") == "K8sJobMode"
        submitter = job["spec"]["submitterPodTemplate"]["spec"]
        assert submitter["restartPolicy"] == "Never"
        assert _image_tag(submitter["containers"][0]["image"]) == (STOCK_IMAGE, RAY_VERSION)
        assert "command" not in submitter["containers"][0], "KubeRay writes the `ray job submit` command"


def test_every_path_creates_and_checks_the_organism_of_the_configmap():
    """The bootstrap Job, the RayJob's entrypoint (on the head) and the status CronJob read the
    organism from the ConfigMap they mount, and that config is one seedcore accepts (else they would
    run the packaged default, and the CronJob would check another organism than was created)."""
    from seedcore_cli.organism import config

    checked = 0
    for name in _kustomizations():
        maps = {doc["metadata"]["name"]: doc for doc in _of_kind(name, "ConfigMap")}
        organism = config.parse(maps["seedcore-organism"]["data"]["organism.yaml"], "the ConfigMap", environ={})
        assert len(organism.organs) >= 1 and organism.source == "the ConfigMap"
        readers = [(where, pod, c, {e["name"]: e.get("value") for e in c.get("env", [])})
                   for where, pod, doc in _pods(name) if doc["kind"] in ("Job", "CronJob")
                   for c in pod["containers"]]
        for job in _of_kind(name, "RayJob"):
            head = _cluster(name)["spec"]["headGroupSpec"]["template"]["spec"]
            readers.append((f"RayJob {job['metadata']['name']} on the head", head, head["containers"][0],
                            _runtime_env(job).get("env_vars", {})))
        for where, pod, container, env in readers:
            path = env.get(config.CONFIG_ENV)
            assert path, f"{name}: {where}: no {config.CONFIG_ENV}: it would use the packaged default organism"
            mounts = [m for m in container.get("volumeMounts", []) if path.startswith(m["mountPath"] + "/")]
            assert len(mounts) == 1, f"{name}: {where}: {path} is on no mounted volume"
            volume = {v["name"]: v for v in pod.get("volumes", [])}[mounts[0]["name"]]
            assert volume["configMap"]["name"] == "seedcore-organism", where
            key = path[len(mounts[0]["mountPath"]) + 1:]
            assert key in maps["seedcore-organism"]["data"], f"{where}: the ConfigMap has no {key}"
            checked += 1
    assert checked == 2 * len(_kustomizations())


# ---- the CLI image ------------------------------------------------------------------------------

LOCK = DEPLOY / "requirements.lock"


def _lock() -> dict[str, str]:
    pins = dict(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", LOCK.read_text(), re.MULTILINE))
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins.items()}


def test_the_cli_image_is_built_on_the_clusters_ray():
    (base,) = _instructions("FROM")
    assert base.value == (f"{STOCK_IMAGE}:{RAY_VERSION}",)
    assert _lock()["ray"] == RAY_VERSION, "pip may swap the base image's Ray"
    (entrypoint,) = _instructions("ENTRYPOINT")
    assert entrypoint.json and list(entrypoint.value) == ["seedcore"]
    copied = " ".join(" ".join(c.value) for c in _instructions("COPY"))
    for needed in ("pyproject.toml", "README.md", "seedcore_cli/", "deploy/kubernetes/requirements.lock"):
        assert needed in copied, needed


def test_the_dockerfile_builds_with_the_classic_builder_too():
    text = (DEPLOY / "Dockerfile").read_text()
    assert not re.match(r"\s*#\s*syntax\s*=", text), "a # syntax line asks for BuildKit"
    for command in _dockerfile():
        assert not command.heredocs, f"line {command.start_line}: heredocs are BuildKit-only"
        for flag in command.flags:
            assert flag.split("=")[0] in ("--chown", "--from"), f"line {command.start_line}: {flag} is BuildKit-only"
    # Under the classic builder WORKDIR creates a missing directory as root, whatever USER says:
    # every directory the non-root build writes in exists before its WORKDIR (the base image's
    # home, or made by an earlier RUN mkdir as that user).
    exists = {"/home/ray"}
    for command in _dockerfile():
        if command.cmd == "RUN":
            exists |= set(re.findall(r"mkdir -p (\S+)", command.value[0]))
        if command.cmd == "WORKDIR":
            assert command.value[0] in exists, f"line {command.start_line}: WORKDIR {command.value[0]} would be root's"
    assert not (DEPLOY / "Dockerfile.dockerignore").exists(), "BuildKit-only: the classic builder reads .dockerignore"


def test_the_image_runs_as_a_numeric_non_root_user():
    users = _instructions("USER")
    assert users, "no USER: the image's user would be whatever the base says"
    first_run = next(c.start_line for c in _dockerfile() if c.cmd == "RUN")
    assert users[0].start_line < first_run, "the build runs as root before USER"
    for user in users:
        uid, _, gid = user.value[0].partition(":")
        assert uid.isdigit() and (not gid or gid.isdigit()), f"USER {user.value[0]}: not numeric"
        assert int(uid) != 0, "root"
    assert users[-1].value[0] == f"{RAY_UID}:{RAY_GID}"
    for copy in _instructions("COPY"):
        assert f"--chown={RAY_UID}:{RAY_GID}" in copy.flags, f"line {copy.start_line}: files must be the user's"


def _lock_problems(dependencies: list[str], pins: dict[str, str]) -> list[str]:
    """What the lock gets wrong about pyproject's dependencies, for the image's Python 3.10 on Linux."""
    env = {"python_version": "3.10", "python_full_version": "3.10.0", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    problems = []
    for text in dependencies:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate(env):
            continue
        key = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if key not in pins:
            problems.append(f"{requirement.name}: not pinned")
        elif not requirement.specifier.contains(pins[key], prereleases=True):
            problems.append(f"{requirement.name}=={pins[key]} is outside pyproject's {requirement.specifier}")
    return problems


def test_the_lock_pins_every_dependency_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _lock_problems(project["dependencies"], _lock()) == [], \
        f"regenerate {LOCK.name}: the command is at its top (docs/kubernetes.md, 'The CLI image')"
    lock_text = LOCK.read_text()
    assert re.search(r"uv pip compile pyproject\.toml deploy/kubernetes/requirements\.in .*--python-version 3\.10", lock_text), \
        "the lock says how it was made: from pyproject.toml, for the image's Python 3.10"
    assert "3.10" in SpecifierSet(project["requires-python"])
    lines = lock_text.splitlines()
    pinned = [i for i, line in enumerate(lines) if re.match(r"^[A-Za-z0-9][^ ]*==", line)]
    assert len(pinned) == len(_lock()) >= 10
    for i in pinned:  # hash-checked: pip --require-hashes refuses a lock without them
        assert lines[i].endswith("\\") and "--hash=sha256:" in lines[i + 1], lines[i]
    run = " ".join(c.value[0] for c in _instructions("RUN"))
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in run
    assert "pip install --no-cache-dir --no-deps ." in run  # seedcore itself resolves nothing more


def test_the_lock_check_can_fail():
    pins = {**_lock(), "typer": "0.31.0"}
    del pins["psutil"]
    problems = _lock_problems(["typer>=0.27,<0.30", "psutil>=5.9", "tomli; python_version < '3.0'"], pins)
    assert len(problems) == 2, problems


def test_the_build_context_admits_what_the_dockerfile_copies_and_little_else():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/")
            parts = path.split("/")
            prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
            if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes):
                result = not negate
        return result

    for copy in _instructions("COPY"):
        for source in copy.value[:-1]:
            assert (ROOT / source).exists(), source
            assert not ignored(source.rstrip("/")), f"{source} is excluded from the build context"
            if source.endswith("/"):
                assert not ignored(source + "cli/app.py"), source
    assert ignored(".venv/bin/python") and ignored("tests/unit/test_kubernetes_manifests.py")


# ---- the documentation --------------------------------------------------------------------------

def test_the_docs_explain_it_and_say_it_is_untested_on_a_live_cluster():
    text = DOCS.read_text()
    assert re.search(r"not exercised on a live\s+Kubernetes\s+cluster", text), \
        "the page must say the manifests were never applied to a live cluster"
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            assert str(path.relative_to(DEPLOY)) in text, f"docs/kubernetes.md does not mention {path.relative_to(DEPLOY)}"
    for name in _kustomizations():
        if name != "base":
            assert f"kubectl apply -k deploy/kubernetes{'/' + name if name else ''} " in text, name
    for needed in ("kubectl ray get token", "upgradeStrategy", "v1.5.1", "v1.6.0", "v1.3.0",
                   "kubectl create secret generic seedcore-redis", "DOCKER_BUILDKIT=0",
                   "uv pip compile pyproject.toml deploy/kubernetes/requirements.in", ".dockerignore"):
        assert needed in text, needed
    # the token Secret: created only when missing, never checked
    assert re.search(r"only if no\s+Secret\s+of\s+that\s+name\s+exists", text) and re.search(r"never\s+checks", text)


def test_the_docs_upgrade_strategy_snippet_names_its_kuberay_version():
    """upgradeStrategy is newer than the base's KubeRay v1.5.1: it is only in the docs, in a YAML
    snippet that passes the same field check with the version the text gives it."""
    text = DOCS.read_text()
    snippets = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]
    clusters = [s for s in snippets if isinstance(s, dict) and s.get("kind") == "RayCluster"]
    assert clusters, "no RayCluster snippet in docs/kubernetes.md"
    for snippet in clusters:
        for path, value, field in kuberay_fields_used(snippet):
            assert field is not None, path
            assert type_problem(value, field) is None, path
        newest = max(version_tuple(f.since) for _, _, f in kuberay_fields_used(snippet) if f)
        assert newest == (1, 6, 0)
