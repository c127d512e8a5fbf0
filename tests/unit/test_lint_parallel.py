"""Many files are scanned on every core (a process pool) and give exactly what one process gives."""

from __future__ import annotations

from lint_helpers import FIXTURES

from seedcore_cli import lint
from seedcore_cli.lint import engine


def test_the_pool_gives_the_same_findings_in_the_same_order(tmp_path, monkeypatch):
    for number in range(engine.PARALLEL_MIN + 40):
        package = tmp_path / f"pkg{number % 7}"
        package.mkdir(exist_ok=True)
        body = "import ray\n\ndef connect():\n    ray.init(allow_multiple=True)\n" if number % 50 == 0 else \
            f"from pkg{(number + 1) % 7}.m{number + 1} import f\n\nvalue = {number}\n\ndef g():\n    return f()\n"
        (package / f"m{number}.py").write_text(body)
    (tmp_path / "broken.py").write_text("def (:\n")
    pools = []
    real = engine._in_pool

    def spy(tasks, workers, sizes=None):
        pools.append(workers)
        return real(tasks, workers, sizes)

    monkeypatch.setattr(engine, "_in_pool", spy)
    config = lint.load([tmp_path])
    single = lint.run([tmp_path], config, jobs=1)
    assert pools == []
    parallel = lint.run([tmp_path], config, jobs=2)
    assert pools == [2]
    assert parallel.findings == single.findings and parallel.checked == single.checked
    assert {f.rule for f in single.findings} == {"SC000", "SC001", "SC002"}


def test_few_files_stay_in_one_process(monkeypatch):
    monkeypatch.setattr(engine, "_in_pool", lambda *args: (_ for _ in ()).throw(AssertionError("pool")))
    assert lint.run([FIXTURES / "before"], jobs=2).checked == 2
