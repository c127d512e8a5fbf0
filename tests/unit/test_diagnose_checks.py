"""Unit tests of diagnose's pure parts: verdicts, masking, the runner's skips, and the
classification functions whose inputs cannot be produced on loopback (exposed clusters,
version mismatches). The Ray-facing checks are tested for real in test_diagnose.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedcore_cli.diagnose import registry, secrets
from seedcore_cli.diagnose.checks import c01_configuration as c01
from seedcore_cli.diagnose.checks import c03_address as c03
from seedcore_cli.diagnose.checks import c06_versions as c06
from seedcore_cli.diagnose.checks import c07_namespace as c07
from seedcore_cli.diagnose.checks import c10_security as c10
from seedcore_cli.diagnose.context import NOT_RECORDED, Context, Inputs
from seedcore_cli.diagnose.model import FAIL, OK, SKIP, WARN, CheckResult, Report
from seedcore_cli.diagnose.runner import _run_one
from seedcore_cli.settings import resolve

# --- verdict and exit code ---------------------------------------------------------------------


def _report(*statuses: str, strict: bool = False) -> Report:
    return Report(tuple(CheckResult(f"c{i}", s, "seen") for i, s in enumerate(statuses)), strict=strict)


@pytest.mark.parametrize("statuses,strict,verdict,code", [
    ((OK, OK, SKIP), False, OK, 0),
    ((OK, WARN), False, WARN, 0),
    ((OK, WARN), True, FAIL, 1),
    ((OK, FAIL, WARN), False, FAIL, 1),
    ((SKIP,), True, OK, 0),
])
def test_verdict_and_exit_code(statuses, strict, verdict, code):
    report = _report(*statuses, strict=strict)
    assert (report.verdict, report.exit_code) == (verdict, code)
    assert report.to_dict()["verdict"] == verdict and report.to_dict()["exit_code"] == code


def test_unknown_status_is_refused():
    with pytest.raises(ValueError):
        CheckResult("x", "fine", "seen")


# --- the runner: dependencies, crashes ------------------------------------------------------


def _ctx(**results: str) -> Context:
    ctx = Context(inputs=Inputs())
    ctx.results = {k: CheckResult(k, v, "") for k, v in results.items()}
    return ctx


def test_runner_skips_a_check_whose_dependency_failed_and_names_it():
    called = []
    check = registry.Check("child", "Child", lambda ctx: called.append(1) or CheckResult("child", OK, ""),
                           needs=("parent", "other"))
    result = _run_one(check, _ctx(parent=FAIL, other=OK))
    assert result.status == SKIP and "parent failed" in result.seen and not called
    result = _run_one(check, _ctx(parent=SKIP, other=OK))
    assert result.status == SKIP and "parent skipped" in result.seen
    assert _run_one(check, _ctx(parent=WARN, other=OK)).status == OK and called


def test_runner_turns_a_crashing_check_into_a_failure_not_a_crash():
    def broken(ctx):
        raise KeyError("boom")

    result = _run_one(registry.Check("broken", "Broken", broken), _ctx())
    assert result.status == FAIL and "KeyError" in result.seen and result.hint


def test_runner_bounds_a_hung_check_and_ignores_what_it_writes_late():
    import threading

    release, finished = threading.Event(), threading.Event()

    def hung(ctx):
        release.wait(30)  # a GCS call without a timeout of its own
        ctx.dashboard_url = "http://late:1"
        finished.set()
        return CheckResult("hung", OK, "late")

    ctx = Context(inputs=Inputs(timeout=0.1))
    result = _run_one(registry.Check("hung", "Hung", hung), ctx)
    try:
        # the runner gave up at its bound while the check was still blocked (released only now)
        assert not release.is_set()
        assert result.status == FAIL and "no answer within 2.2 s" in result.seen and result.hint
        assert result.seconds >= 2.2
    finally:
        release.set()
    assert finished.wait(10)
    assert ctx.dashboard_url == ""  # the abandoned check worked on a copy


def test_runner_adopts_what_a_bounded_check_learns_and_keeps_unbounded_ones_on_this_thread():
    import threading

    threads = {}

    def learns(ctx):
        threads["bounded"] = threading.current_thread()
        ctx.host, ctx.env_file_values["A"] = "10.0.0.1", "1"
        return CheckResult("learns", OK, "")

    def local(ctx):
        threads["unbounded"] = threading.current_thread()
        return CheckResult("local", OK, "")

    ctx = Context(inputs=Inputs())
    assert _run_one(registry.Check("learns", "Learns", learns), ctx).status == OK
    assert ctx.host == "10.0.0.1" and ctx.env_file_values == {"A": "1"}
    assert _run_one(registry.Check("local", "Local", local, bounded=False), ctx).status == OK
    assert threads["unbounded"] is threading.current_thread() is not threads["bounded"]


def test_every_check_is_registered_once_in_the_documented_order():
    from seedcore_cli.diagnose import checks

    ids = [c.id for c in checks.all_checks()]
    assert ids == ["configuration", "local_install", "address", "reachability", "connection", "versions",
                   "namespace", "singletons", "organism", "dashboard_security", "drivers"]


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,secret", [
    ("RAY_AUTH_TOKEN", True), ("db_password", True), ("MY_SECRET", True), ("API_KEY", True),
    ("SSH_KEYFILE", True), ("RAY_ADDRESS", False), ("SEEDCORE_NS", False),
])
def test_secret_names(name, secret):
    assert secrets.is_secret_name(name) is secret
    assert (secrets.shown(name, "value") == secrets.MASK) is secret


def test_redact_hides_secret_values_anywhere_in_a_result():
    hidden = secrets.secret_values({"DB_PASSWORD": "hunter22", "RAY_ADDRESS": "127.0.0.1:6379"},
                                   {"API_KEY": "abcd-efgh"})
    assert hidden == {"hunter22", "abcd-efgh"}
    result = CheckResult("x", FAIL, "saw hunter22 in abcd-efgh", "use hunter22",
                         details=(("k", "hunter22"),))
    masked = secrets.redact_result(result, hidden)
    assert "hunter22" not in str(masked.to_dict()) and "abcd-efgh" not in str(masked.to_dict())
    assert masked.seen == "saw **** in ****"


# --- configuration -----------------------------------------------------------------------------


def test_legacy_host_port_disagreeing_with_ray_address():
    s = resolve(environ={"RAY_ADDRESS": "127.0.0.1:6379", "RAY_HOST": "10.0.0.5"}, cwd=Path("/nonexistent"))
    assert "ray://10.0.0.5:10001" in c01.legacy_disagreement(s, {"RAY_HOST": "10.0.0.5"})
    s = resolve(environ={"RAY_ADDRESS": "ray://10.0.0.5:10001"}, cwd=Path("/nonexistent"))
    assert c01.legacy_disagreement(s, {"RAY_HOST": "10.0.0.5", "RAY_PORT": "10001"}) is None


def test_watched_variables_mask_secrets():
    shown = dict(c01.watched_variables({"RAY_AUTH_TOKEN": "t0ken", "RAY_ADDRESS": "auto",
                                        "SEEDCORE_API_KEY": "k3y", "HOME": "/root"}))
    assert shown == {"RAY_AUTH_TOKEN": "****", "RAY_ADDRESS": "auto", "SEEDCORE_API_KEY": "****"}


# --- address: the loopback rewrite -------------------------------------------------------------


@pytest.mark.parametrize("mode,host,before,now,status", [
    ("driver", "127.0.0.1", "0", "0", OK),
    ("driver", "127.0.0.1", None, "0", WARN),  # connect() set it for itself; others lack it
    ("driver", "127.0.0.1", NOT_RECORDED, None, WARN),
    ("driver", "localhost", "1", "1", FAIL),  # explicitly enabled: Ray rewrites and hangs
    ("driver", "127.0.0.1", "true", "true", FAIL),
    ("driver", "10.0.0.5", None, None, ""),  # not loopback: not applicable
    ("client", "127.0.0.1", None, None, ""),  # Ray Client does not rewrite
])
def test_loopback_verdict(mode, host, before, now, status):
    got, seen, hint = c03.loopback_verdict(mode, host, before, now)
    assert got == status
    if status in (WARN, FAIL):
        assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0" in hint


# --- versions ------------------------------------------------------------------------------------

RAY_MISMATCH = ("Version mismatch: The cluster was started with:\n    Ray: 2.59.0\n    Python: 3.10.14\n"
                "This process on node 10.0.0.7 was started with:\n    Ray: 2.60.0\n    Python: 3.11.7\n")


def test_parse_rays_own_mismatch_message():
    assert c06.parse_mismatch(RAY_MISMATCH) == {"cray": "2.59.0", "cpy": "3.10.14", "where": "node 10.0.0.7",
                                                "lray": "2.60.0", "lpy": "3.11.7"}
    assert c06.parse_mismatch("something else") is None


@pytest.mark.parametrize("mode,local,cluster,status", [
    ("driver", ("2.60.0", "3.11.7"), ("2.60.0", "3.11.7"), OK),
    ("driver", ("2.60.0", "3.11.7"), ("2.60.0", "3.11.9"), FAIL),  # drivers: exact Python
    ("client", ("2.60.0", "3.11.7"), ("2.60.0", "3.11.9"), WARN),  # client: minor only
    ("client", ("2.60.0", "3.11.7"), ("2.60.0", "3.10.7"), FAIL),
    ("client", ("2.60.0", "3.11.7"), ("2.59.0", "3.11.7"), FAIL),
    ("local", ("2.60.0", "3.11.7"), ("2.59.0", "3.11.7"), FAIL),
])
def test_version_rules(mode, local, cluster, status):
    got, seen, hint = c06.compare(mode, *local, *cluster)
    assert got == status
    if status == FAIL:
        assert f"ray=={cluster[0]}" in hint


# --- namespace -----------------------------------------------------------------------------------


def test_anonymous_namespace_and_misplaced_actors():
    anon = "6f1d7c3e-2b1a-4c55-9f0e-0a1b2c3d4e5f"
    assert c07.is_anonymous(anon) and not c07.is_anonymous("seedcore-dev")
    assert c07.misplaced("dev", {"prod": ["mw", "shared_cache"], anon: ["mw"]}) == ("prod", ["mw", "shared_cache"])
    assert c07.misplaced("dev", {"dev": ["mw"], "prod": ["mw"]}) is None
    assert c07.misplaced("dev", {}) is None


# --- security ------------------------------------------------------------------------------------


@pytest.mark.parametrize("exposed,auth,mode,token,status", [
    (False, c10.OFF, "", "", OK),  # loopback, no auth: fine
    (True, c10.OFF, "", "", WARN),  # ShadowRay
    (True, c10.OFF, "token", "RAY_AUTH_TOKEN", WARN),  # a token here does not protect the cluster
    (True, c10.UNKNOWN, "", "", WARN),
    (False, c10.UNKNOWN, "", "", OK),
    (True, c10.ON, "token", "RAY_AUTH_TOKEN", OK),
    (False, c10.ON, "", "", FAIL),  # the cluster wants a token and there is none
    (True, c10.ON, "", "/root/.ray/auth_token", WARN),  # token on disk, mode not set here
])
def test_security_classification(exposed, auth, mode, token, status):
    got, seen, hint = c10.classify(exposed, auth, mode, token)
    assert got == status
    if exposed and auth == c10.OFF:
        assert "CVE-2023-48022" in hint and "ShadowRay" in hint


def test_token_source_names_where_never_what(tmp_path, monkeypatch):
    from seedcore_cli.ray_boundary import auth

    monkeypatch.setenv("HOME", str(tmp_path))
    assert auth.find_token({"RAY_AUTH_TOKEN": "s3cr3t"}).source == "RAY_AUTH_TOKEN"
    file = tmp_path / "tok"
    file.write_text("s3cr3t\n")
    found = auth.find_token({"RAY_AUTH_TOKEN_PATH": str(file)})
    assert found.source == f"RAY_AUTH_TOKEN_PATH ({file})" and found.value == "s3cr3t"
    assert "s3cr3t" not in repr(found)
    assert auth.find_token({}) is None
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("s3cr3t")
    # Ray's loader finds ~/.ray/auth_token whatever RAY_AUTH_MODE says; seedcore uses it only
    # when the cluster demands a token (connect() probes first).
    assert auth.find_token({}).source == str(tmp_path / ".ray" / "auth_token")


@pytest.mark.parametrize("environ,found,sent", [
    ({}, True, False),  # ~/.ray/auth_token exists: Ray's loader finds it, but no one asked for it
    ({"RAY_AUTH_MODE": "disabled"}, True, False),
    ({"RAY_AUTH_MODE": "token"}, True, True),
    ({"RAY_AUTH_TOKEN": "t"}, True, False),
    ({"RAY_AUTH_TOKEN": "t", "RAY_AUTH_MODE": "token"}, True, True),
    ({"RAY_AUTH_TOKEN_PATH": "MISSING", "RAY_AUTH_MODE": "token"}, False, False),  # a named file replaces ~
    ({"RAY_AUTH_TOKEN_PATH": "EMPTY", "RAY_AUTH_MODE": "token"}, False, False),
    ({"RAY_AUTH_TOKEN_PATH": "FILE", "RAY_AUTH_MODE": "TOKEN"}, True, True),
])
def test_a_token_is_sent_only_in_token_mode(environ, found, sent, tmp_path, monkeypatch):
    """Where a token is (diagnose reports it) follows Ray's order; the State API gets one only in
    token mode, which connect() turns on when the cluster demands a token."""
    from seedcore_cli.ray_boundary import auth, state_api

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("home-token")
    (tmp_path / "file").write_text("file-token")
    (tmp_path / "empty").write_text("\n")
    paths = {"MISSING": tmp_path / "missing", "FILE": tmp_path / "file", "EMPTY": tmp_path / "empty"}
    environ = {k: str(paths.get(v, v)) for k, v in environ.items()}
    assert ("Authorization" in state_api.headers(auth.token_to_send(environ))) is sent
    assert (auth.find_token(environ) is not None) is found
