"""What tests/unit/test_kubernetes_manifests.py checks the manifests with, none of it Kubernetes'
own code: a small kustomize renderer (the subset deploy/kubernetes uses, for machines without
kubectl; compared with `kubectl kustomize` where it is installed), the Pod Security Standards'
"restricted" profile as rules over a pod spec, and the KubeRay fields the manifests may use, each
with the KubeRay release that introduced it.

Sources (read 2026-12): Kubernetes "Pod Security Standards" (the baseline and restricted tables,
policy version "latest"); KubeRay's API reference (docs/reference/api.md in ray-project/kuberay,
and the generated "KubeRay CRD API reference" in Ray's docs) and release notes for the versions.
KubeRay's CRDs are not copied here: this table lists only what the manifests use, what the docs
show (upgradeStrategy) and what turning the autoscaler on would add, so a field outside it is a
question to answer from KubeRay's docs (for the release the kustomization promises), then add here.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# ---- rendering kustomizations -------------------------------------------------------------------

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "patches", "images"}


def render_with_kubectl(directory: Path) -> list[dict]:
    out = subprocess.run([shutil.which("kubectl") or "kubectl", "kustomize", str(directory)],
                         capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory}: {out.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc is not None]


def render_in_python(directory: Path, _seen: tuple[Path, ...] = ()) -> list[dict]:
    """kustomize's result for the features used here: resources (files and directories), patches
    (strategic merge patches that add maps or delete a whole object, JSON 6902 patches with a
    target) and images. Anything else raises NotImplementedError rather than rendering wrongly."""
    directory = directory.resolve()
    if any(directory == seen or seen.is_relative_to(directory) for seen in _seen):
        raise ValueError(f"{directory}: cycle (kustomize refuses a base that contains the overlay)")
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    if unknown:
        raise NotImplementedError(f"{directory}: kustomization fields {sorted(unknown)}: render with kubectl")
    docs: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if not path.is_relative_to(directory) and not path.is_dir():
            raise ValueError(f"{directory}: {resource} is a file outside the kustomization (kustomize refuses it)")
        if path.is_dir():
            docs += render_in_python(path, (*_seen, directory))
        else:
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    for patch in kustomization.get("patches", []):
        docs = _apply_patch(directory, patch, docs)
    for image in kustomization.get("images", []):
        _set_image(docs, image)
    keys = [(d["apiVersion"], d["kind"], d["metadata"]["name"]) for d in docs]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise ValueError(f"{directory}: defined twice: {sorted(duplicates)}")
    return docs


def _apply_patch(directory: Path, patch: dict, docs: list[dict]) -> list[dict]:
    body = yaml.safe_load((directory / patch["path"]).read_text()) if "path" in patch else yaml.safe_load(patch["patch"])
    target = patch.get("target")
    if isinstance(body, list):  # JSON 6902
        if not target:
            raise ValueError(f"{directory}: a JSON 6902 patch needs a target")
        hits = [d for d in docs if _matches(d, target)]
        if not hits:
            raise ValueError(f"{directory}: patch target {target} matches nothing")
        for doc in hits:
            for op in body:
                _json6902(doc, op)
        return docs
    target = target or {"kind": body["kind"], "name": body["metadata"]["name"]}
    hits = [d for d in docs if _matches(d, target)]
    if not hits:
        raise ValueError(f"{directory}: patch target {target} matches nothing")
    if body.get("$patch") == "delete":
        return [d for d in docs if not _matches(d, target)]
    for doc in hits:
        _merge(doc, {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}, doc["kind"])
    return docs


def _matches(doc: dict, target: dict) -> bool:
    group, _, version = doc["apiVersion"].rpartition("/")
    wanted = {"kind": doc["kind"], "name": doc["metadata"]["name"], "group": group, "version": version}
    return all(wanted.get(key) == value for key, value in target.items())


def _merge(into: dict, patch: dict, kind: str) -> None:
    """A strategic merge patch as kustomize applies it to a kind whose schema it does not know (a
    custom resource): maps merge, everything else (lists included) is replaced, null deletes."""
    for key, value in patch.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, kind)
        else:
            if isinstance(value, list) and kind not in ("RayCluster", "RayJob", "RayService"):
                raise NotImplementedError(f"a strategic merge of a list into a {kind}: render with kubectl")
            into[key] = copy.deepcopy(value)


def _json6902(doc: dict, op: dict) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
    parent: Any = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    if op["op"] in ("add", "replace"):
        value = copy.deepcopy(op["value"])
        if isinstance(parent, list):
            if last == "-":
                parent.append(value)
            elif op["op"] == "add":
                parent.insert(int(last), value)
            else:
                parent[int(last)] = value
        else:
            if op["op"] == "replace" and last not in parent:
                raise KeyError(f"replace {op['path']}: no such field")
            parent[last] = value
    elif op["op"] == "remove":
        del parent[int(last) if isinstance(parent, list) else last]
    else:
        raise NotImplementedError(f"JSON patch op {op['op']}")


def _set_image(docs: list[dict], image: dict) -> None:
    for container in (c for doc in docs for _, pod in pod_specs(doc) for c in containers_of(pod)):
        repo, _, tag = container["image"].rpartition(":") if ":" in container["image"] else (container["image"], "", "")
        if repo == image["name"]:
            new = image.get("newName", repo)
            if "digest" in image:
                container["image"] = f"{new}@{image['digest']}"
            else:
                container["image"] = f"{new}:{image.get('newTag', tag)}" if image.get("newTag", tag) else new


# ---- the pods a set of objects makes -----------------------------------------------------------

def pod_specs(doc: dict) -> list[tuple[str, dict]]:
    """(where, pod spec) of every pod an object makes, KubeRay's custom resources included."""
    kind, spec, name = doc["kind"], doc.get("spec") or {}, doc["metadata"]["name"]
    if kind == "Pod":
        return [(f"Pod {name}", spec)]
    if kind in ("Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        return [(f"{kind} {name}", spec["template"]["spec"])]
    if kind == "CronJob":
        return [(f"CronJob {name}", spec["jobTemplate"]["spec"]["template"]["spec"])]
    if kind == "RayCluster":
        return ray_cluster_pods(f"RayCluster {name}", spec)
    if kind == "RayJob":
        pods = []
        if "submitterPodTemplate" in spec:
            pods.append((f"RayJob {name} submitter", spec["submitterPodTemplate"]["spec"]))
        if "rayClusterSpec" in spec:
            pods += ray_cluster_pods(f"RayJob {name} cluster", spec["rayClusterSpec"])
        return pods
    return []


def ray_cluster_pods(where: str, spec: dict) -> list[tuple[str, dict]]:
    pods = [(f"{where} head", spec["headGroupSpec"]["template"]["spec"])]
    pods += [(f"{where} group {g['groupName']}", g["template"]["spec"]) for g in spec.get("workerGroupSpecs", [])]
    return pods


def containers_of(pod: dict) -> list[dict]:
    return [*pod.get("initContainers", []), *pod.get("containers", []), *pod.get("ephemeralContainers", [])]


# ---- Pod Security Standards: "restricted" -----------------------------------------------------

BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                           "persistentVolumeClaim", "projected", "secret"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def restricted_violations(pod: dict, annotations: dict | None = None) -> list[str]:
    """Every rule of the Pod Security Standards' "restricted" profile (which includes "baseline")
    that the pod breaks, as the admission controller reads it: container fields override the pod's."""
    found: list[str] = []
    pod_sc = pod.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            found.append(f"{field}: true")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume['name']}: type {sorted(kinds)} not allowed")
    for sysctl in pod_sc.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl['name']}")
    found += _selinux_apparmor("pod", pod_sc)
    if pod_sc.get("runAsUser") == 0:
        found.append("pod runAsUser: 0")
    if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        found.append("pod seccompProfile Unconfined")
    for key, value in (annotations or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
                value == "runtime/default" or value.startswith("localhost/")):
            found.append(f"annotation {key}: {value}")
    for container in containers_of(pod):
        found += [f"container {container['name']}: {v}" for v in _container_violations(container, pod_sc)]
    return found


def _selinux_apparmor(where: str, sc: dict) -> list[str]:
    found = []
    selinux = sc.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        found.append(f"{where} seLinuxOptions {selinux}")
    apparmor = (sc.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault", "Localhost"):
        found.append(f"{where} appArmorProfile {apparmor}")
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        found.append(f"{where} windowsOptions.hostProcess")
    return found


def _container_violations(container: dict, pod_sc: dict) -> list[str]:
    sc = container.get("securityContext") or {}
    found = _selinux_apparmor("", sc)
    if sc.get("privileged"):
        found.append("privileged")
    if sc.get("procMount", "Default") != "Default":
        found.append(f"procMount {sc['procMount']}")
    if any(port.get("hostPort") for port in container.get("ports", [])):
        found.append("hostPort")
    if sc.get("allowPrivilegeEscalation") is not False:
        found.append("allowPrivilegeEscalation is not false")
    run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if run_as_non_root is not True:
        found.append("runAsNonRoot is not true (neither the container's nor the pod's)")
    if sc.get("runAsUser") == 0:
        found.append("runAsUser: 0")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        found.append(f"seccompProfile {seccomp or 'unset'} (RuntimeDefault or Localhost needed)")
    capabilities = sc.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        found.append("capabilities.drop lacks ALL")
    added = set(capabilities.get("add") or [])
    if not added <= {"NET_BIND_SERVICE"}:
        found.append(f"capabilities.add {sorted(added)}")
    return found


def effective_user(container: dict, pod: dict) -> Any:
    sc, pod_sc = container.get("securityContext") or {}, pod.get("securityContext") or {}
    return sc.get("runAsUser", pod_sc.get("runAsUser"))


def read_only_root(container: dict) -> bool:
    return bool((container.get("securityContext") or {}).get("readOnlyRootFilesystem"))


def writable_at(path: str, container: dict, pod: dict) -> str | None:
    """How `path` is writable in the container: 'emptyDir' (a writable emptyDir mounted at it or
    above it), 'root filesystem' (not read-only, and no read-only mount over it), or None."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = sorted((m for m in container.get("volumeMounts", [])
                     if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")),
                    key=lambda m: len(m["mountPath"]))
    if mounts:
        innermost = mounts[-1]
        volume = volumes.get(innermost["name"], {})
        if innermost.get("readOnly") or "emptyDir" not in volume:
            return None
        return "emptyDir"
    return None if read_only_root(container) else "root filesystem"


# ---- KubeRay's API: the fields the manifests may use -------------------------------------------

@dataclass(frozen=True)
class Field:
    since: str  # the first KubeRay release whose ray.io/v1 API has it
    type: Any   # a Python type, a set of allowed values, or the name of a Kubernetes type (validated as such)


_V1 = "1.0.0"  # ray.io/v1 first appeared in KubeRay v1.0.0 (v1.1.0 dropped v1alpha1)
_STR_MAP = "map[string]string"
_CLUSTER_SPEC = {
    "rayVersion": Field(_V1, str),
    "enableInTreeAutoscaling": Field(_V1, bool),
    "autoscalerOptions": Field(_V1, dict),
    "autoscalerOptions.securityContext": Field(_V1, "SecurityContext"),
    "autoscalerOptions.resources": Field(_V1, "ResourceRequirements"),
    "gcsFaultToleranceOptions": Field("1.3.0", dict),
    "gcsFaultToleranceOptions.redisAddress": Field("1.3.0", str),
    "gcsFaultToleranceOptions.redisPassword": Field("1.3.0", dict),
    "gcsFaultToleranceOptions.redisPassword.value": Field("1.3.0", str),
    "gcsFaultToleranceOptions.redisPassword.valueFrom": Field("1.3.0", "EnvVarSource"),
    "gcsFaultToleranceOptions.redisUsername": Field("1.3.0", dict),
    "gcsFaultToleranceOptions.redisUsername.value": Field("1.3.0", str),
    "gcsFaultToleranceOptions.redisUsername.valueFrom": Field("1.3.0", "EnvVarSource"),
    "gcsFaultToleranceOptions.externalStorageNamespace": Field("1.3.0", str),
    "authOptions": Field("1.5.1", dict),
    "authOptions.mode": Field("1.5.1", {"disabled", "token"}),
    "upgradeStrategy": Field("1.6.0", dict),
    "upgradeStrategy.type": Field("1.6.0", {"Recreate", "None"}),
    "headGroupSpec": Field(_V1, dict),
    "headGroupSpec.rayStartParams": Field(_V1, _STR_MAP),
    "headGroupSpec.template": Field(_V1, "PodTemplateSpec"),
    "workerGroupSpecs": Field(_V1, list),
    "workerGroupSpecs[].groupName": Field(_V1, str),
    "workerGroupSpecs[].replicas": Field(_V1, int),
    "workerGroupSpecs[].minReplicas": Field(_V1, int),
    "workerGroupSpecs[].maxReplicas": Field(_V1, int),
    "workerGroupSpecs[].rayStartParams": Field(_V1, _STR_MAP),
    "workerGroupSpecs[].template": Field(_V1, "PodTemplateSpec"),
}
KUBERAY_FIELDS: dict[str, dict[str, Field]] = {
    "RayCluster": {f"spec.{path}": field for path, field in _CLUSTER_SPEC.items()} | {"spec": Field(_V1, dict)},
    "RayJob": {
        "spec": Field(_V1, dict),
        "spec.entrypoint": Field(_V1, str),
        "spec.runtimeEnvYAML": Field(_V1, str),
        "spec.clusterSelector": Field(_V1, _STR_MAP),
        "spec.shutdownAfterJobFinishes": Field(_V1, bool),
        "spec.submitterPodTemplate": Field(_V1, "PodTemplateSpec"),
        "spec.submissionMode": Field("1.1.0", {"K8sJobMode", "HTTPMode"}),
        "spec.rayClusterSpec": Field(_V1, dict),
        **{f"spec.rayClusterSpec.{path}": field for path, field in _CLUSTER_SPEC.items()},
    },
}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").split("."))


def kuberay_fields_used(doc: dict) -> Iterator[tuple[str, Any, Field | None]]:
    """(path, value, the table's Field or None) for every field of a KubeRay object below `spec`,
    down to the fields whose type is a Kubernetes type or a string map (those are checked as such)."""
    table = KUBERAY_FIELDS[doc["kind"]]

    def walk(path: str, value: Any) -> Iterator[tuple[str, Any, Field | None]]:
        field = table.get(path)
        yield path, value, field
        if field is None or field.type not in (dict, list):
            return
        if isinstance(value, dict):
            for key, item in value.items():
                yield from walk(f"{path}.{key}", item)
        elif isinstance(value, list):
            for item in value:
                for key, sub in (item or {}).items():
                    yield from walk(f"{path}[].{key}", sub)

    yield from walk("spec", doc.get("spec") or {})


def type_problem(value: Any, field: Field) -> str | None:
    kind = field.type
    if isinstance(kind, set):
        return None if value in kind else f"{value!r} is not one of {sorted(kind)}"
    if kind == _STR_MAP:
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        return None if ok else f"{value!r} is not a map of strings to strings (quote numbers)"
    if isinstance(kind, str):  # a Kubernetes type: the caller validates it against the API schema
        return None if isinstance(value, dict) else f"{value!r} is not an object"
    if kind is int and isinstance(value, bool):
        return f"{value!r} is not an integer"
    return None if isinstance(value, kind) else f"{value!r} is not a {kind.__name__}"
