"""Contract tests: what seedcore relies on in Ray beyond its public API. A Ray upgrade that
changes any of these fails here, by name, instead of turning into a wrong answer elsewhere."""

from __future__ import annotations

import pytest

from seedcore_cli.ray_boundary import probe


@pytest.fixture(scope="module")
def pb():
    import ray  # noqa: F401  (the generated modules expect ray imported)
    from ray.core.generated import gcs_service_pb2, ray_client_pb2

    return gcs_service_pb2, ray_client_pb2


def test_the_probe_speaks_rays_wire_format(pb):
    """probe.py encodes its requests by hand (so it needs no ray import): they must be Ray's."""
    gcs, client = pb
    assert client.ClusterInfoRequest(type=client.ClusterInfoType.PING).SerializeToString() == probe._CLIENT_PING
    for key, namespace in ((b"CLUSTER_METADATA", b"cluster"), (b"dashboard", b"dashboard")):
        expected = gcs.InternalKVGetRequest(key=key, namespace=namespace).SerializeToString()
        assert b"\x0a" + probe._encode_varint(len(key)) + key + b"\x12" + probe._encode_varint(len(namespace)) \
            + namespace == expected
    reply = gcs.CheckAliveReply(ray_version="9.8.7").SerializeToString()
    assert probe._string_field(reply, 2) == "9.8.7", "CheckAliveReply.ray_version moved"
    kv = gcs.InternalKVGetReply(value=b'{"python_version": "3.11.7"}').SerializeToString()
    assert probe._string_field(kv, 2) == '{"python_version": "3.11.7"}', "InternalKVGetReply.value moved"
    service = gcs.DESCRIPTOR.services_by_name
    assert "CheckAlive" in service["NodeInfoGcsService"].methods_by_name
    assert "InternalKVGet" in service["InternalKVGcsService"].methods_by_name


def test_reload_auth_config_runs():
    """ray_compat.reload_auth_config: Config.initialize and the token loader's reset_cache."""
    from seedcore_cli.ray_boundary import ray_compat

    ray_compat.reload_auth_config()  # RAY_AUTH_MODE is unset in the tests: stays disabled
    from ray._raylet import AuthenticationMode, get_authentication_mode

    assert get_authentication_mode() != AuthenticationMode.TOKEN


def test_keep_loopback_flag_exists():
    from ray._private import ray_constants

    assert hasattr(ray_constants, "ENABLE_RAY_CLUSTER"), "ray_compat.keep_loopback needs ENABLE_RAY_CLUSTER"


def test_cluster_messages_go_to_stderr_not_stdout(capsys):
    """ray_compat.cluster_messages_to_stderr: the error listener calls the module's
    print_to_stdstream by name, so replacing it re-routes what it prints (raylet warnings)."""
    import inspect

    import ray._private.worker as worker

    from seedcore_cli.ray_boundary import ray_compat

    assert "print_to_stdstream(" in inspect.getsource(worker.listen_error_messages)
    original = worker.print_to_stdstream
    try:
        ray_compat.cluster_messages_to_stderr()
        ray_compat.cluster_messages_to_stderr()  # once is enough: not wrapped twice
        worker.print_to_stdstream({"lines": ["WARNING: 8 PYTHON worker processes"], "pid": "raylet",
                                   "is_err": False}, ignore_prefix=False)
        out, err = capsys.readouterr()
        assert out == "" and "WARNING: 8 PYTHON worker processes" in err
    finally:
        worker.print_to_stdstream = original


def test_register_pickle_by_value_exists():
    """connect() ships seedcore's code by value through Ray's vendored cloudpickle."""
    import ray

    assert callable(ray.cloudpickle.register_pickle_by_value)


def test_handle_introspection_on_a_real_actor_in_both_modes(ray_cluster, namespace):
    """handle_actor_id / handle_class on driver and Ray Client handles; the head resource; the
    session probes diagnose uses."""
    import json

    from support.heads import connect_to

    from seedcore_cli.ray_boundary import connection, ray_compat

    connect_to(ray_cluster, namespace)
    import ray

    from seedcore_cli.organism.actors import probe
    from seedcore_cli.organism.singletons import MissTracker

    handle = ray.remote(MissTracker).options(name="compat", namespace=namespace, lifetime="detached",
                                             num_cpus=0).remote()
    try:
        info = ray.get(handle.__ray_call__.remote(probe), timeout=60)
        assert ray_compat.handle_actor_id(handle) == info["actor_id"]
        found = ray.get_actor("compat", namespace=namespace)
        assert ray_compat.handle_actor_id(found) == info["actor_id"]
        assert ray_compat.handle_class(found) == ("seedcore_cli.organism.singletons", "MissTracker")
        assert ray_compat.driver_connected() and ray_compat.client_contexts() == 0
        assert any(ray_compat.HEAD_NODE_RESOURCE in (n.get("Resources") or {}) for n in ray.nodes())
        # Ray Client handles: the same id, no class (`actors list` and teardown rely on this)
        script = (f"import json, ray; from seedcore_cli.ray_boundary import ray_compat; ray.init({ray_cluster.client_address!r}); "
                  f"h = ray.get_actor('compat', namespace={namespace!r}); "
                  "print(json.dumps([ray_compat.handle_actor_id(h), ray_compat.handle_class(h), "
                  "ray_compat.client_contexts(), ray_compat.client_target()]))")
        import subprocess
        import sys

        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr
        actor_id, created_from, contexts, target = json.loads(out.stdout.strip().splitlines()[-1])
        assert actor_id == info["actor_id"] and created_from is None and contexts == 1
        assert target == ray_cluster.client_address.removeprefix("ray://")
    finally:
        ray.kill(handle, no_restart=True)
        connection.disconnect()
