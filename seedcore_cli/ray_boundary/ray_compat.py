"""The one home of Ray's private API in seedcore.

Each function names the private thing it relies on. tests/test_ray_compat.py holds a contract
test per entry that fails, by name, when a Ray upgrade changes it. Nothing here falls back
silently: where Ray's shape is not what we expect, ApiChanged says so instead of a wrong answer
(a teardown that kills nothing, say). Everything else in seedcore uses Ray's public API.
"""

from __future__ import annotations

from typing import Any

from seedcore_cli.errors import OperationFailed

# The resource every head node offers (`ray.nodes()[i]["Resources"]`): how a head is told apart.
HEAD_NODE_RESOURCE = "node:__internal_head__"


class ApiChanged(OperationFailed):
    """Ray's private API is not what this seedcore was written against (exit 1, one line)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"Ray's private API changed: {what}",
                         "use a Ray version this seedcore supports (see docs/connection.md, \"Supported versions\")")


def reload_auth_config() -> None:
    """Re-read RAY_AUTH_MODE and the token in a process that imported ray before they were set.

    Ray caches its config (`ray._raylet.Config`) and the token (`AuthenticationTokenLoader`) at
    import; its own `_enable_token_auth` refreshes the first the same way.
    """
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def keep_loopback() -> None:
    """Keep a driver on 127.0.0.1 when ray was imported before RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
    was set: Ray reads the flag from `ray._private.ray_constants.ENABLE_RAY_CLUSTER` at call time."""
    from ray._private import ray_constants

    if not hasattr(ray_constants, "ENABLE_RAY_CLUSTER"):
        raise ApiChanged("ray._private.ray_constants.ENABLE_RAY_CLUSTER is gone")
    ray_constants.ENABLE_RAY_CLUSTER = False


def cluster_messages_to_stderr() -> None:
    """A driver's background thread prints the cluster's error messages ("(raylet) WARNING: 8
    PYTHON worker processes have been started ...") to stdout through
    `ray._private.worker.print_to_stdstream`, whatever log_to_driver says. stdout carries
    seedcore's data (`-o json`): send them to stderr instead, like every other message."""
    import ray._private.worker as worker

    original = getattr(worker, "print_to_stdstream", None)
    if original is None:
        raise ApiChanged("ray._private.worker.print_to_stdstream is gone")
    if getattr(original, "seedcore_to_stderr", False):
        return

    def to_stderr(data: dict, ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr.seedcore_to_stderr = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


def handle_actor_id(handle: Any) -> str:
    """The actor id (hex) an actor handle points at, without calling the actor (driver and Ray
    Client handles: `handle._actor_id`)."""
    actor_id = getattr(handle, "_actor_id", None)
    if actor_id is None or not hasattr(actor_id, "hex"):
        raise ApiChanged(f"{type(handle).__name__} has no _actor_id")
    return actor_id.hex()


def handle_class(handle: Any) -> tuple[str, str] | None:
    """(module, class name) a driver-mode handle was created from
    (`_ray_actor_creation_function_descriptor`); None for Ray Client handles, which carry none."""
    descriptor = getattr(handle, "_ray_actor_creation_function_descriptor", None)
    if descriptor is None:
        return None
    return getattr(descriptor, "module_name", "") or "", getattr(descriptor, "class_name", "") or ""


def client_contexts() -> int:
    """How many Ray Client contexts this process holds (`ray.util.client._all_contexts`; more than
    one means someone used allow_multiple=True)."""
    from ray.util import client as ray_client

    return len(getattr(ray_client, "_all_contexts", ()) or ())


def driver_connected() -> bool:
    """Whether this process is a connected driver (`ray._private.worker.global_worker.connected`)."""
    import ray

    return bool(ray._private.worker.global_worker.connected)


def client_target() -> str:
    """HOST:PORT of the current Ray Client connection (`client_worker._conn_str`), or '?'."""
    from ray.util import client as ray_client

    worker = getattr(ray_client.ray.get_context(), "client_worker", None)
    return getattr(worker, "_conn_str", "") or "?"


def job_namespaces(in_process: bool, timeout: float = 30.0) -> dict[str, str]:
    """job id (hex) -> Ray namespace of every job the GCS knows (live and finished), read from the
    GCS job table (`global_worker.gcs_client.get_all_job_info`: Ray's public job APIs carry no
    namespace). in_process: this process is a connected driver; otherwise (Ray Client) the table
    is read by a task on the cluster, where every worker is connected to the GCS."""
    import ray

    if in_process:
        return _job_namespaces_here()
    return ray.get(ray.remote(num_cpus=0)(_job_namespaces_here).remote(), timeout=timeout)


def _job_namespaces_here() -> dict[str, str]:
    """Runs in a connected driver or worker (shipped by value: nothing of seedcore needed there)."""
    import ray

    client = getattr(ray._private.worker.global_worker, "gcs_client", None)
    if client is None or not hasattr(client, "get_all_job_info"):
        raise ApiChanged("global_worker.gcs_client.get_all_job_info is gone")
    table = client.get_all_job_info(skip_submission_job_info_field=True, skip_is_running_tasks_field=True)
    return {job_id.hex(): info.config.ray_namespace for job_id, info in table.items()}
