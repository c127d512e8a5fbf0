"""Contract tests: what seedcore relies on in Ray beyond its public API. A Ray upgrade that
changes any of these fails here, by name, instead of turning into a wrong answer elsewhere."""

from __future__ import annotations

import pytest

from seedcore_cli import probe


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
    info = client.ClusterInfoResponse(json='{"ray_version": "1"}').SerializeToString()
    assert probe._ping_versions(info) == ("1", "")
    service = gcs.DESCRIPTOR.services_by_name
    assert "CheckAlive" in service["NodeInfoGcsService"].methods_by_name
    assert "InternalKVGet" in service["InternalKVGcsService"].methods_by_name


def test_reload_auth_config_uses_apis_that_exist():
    """ray_compat.reload_auth_config: Config.initialize and the token loader's reset_cache."""
    from ray._raylet import AuthenticationTokenLoader, Config

    assert callable(Config.initialize)
    assert callable(AuthenticationTokenLoader.instance().reset_cache)


def test_register_pickle_by_value_exists():
    """connect() ships seedcore's code by value through Ray's vendored cloudpickle."""
    import ray

    assert callable(ray.cloudpickle.register_pickle_by_value)
