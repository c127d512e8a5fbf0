"""One clean line from Ray's error texts (errors.fold / traceback_tail)."""

from __future__ import annotations

from seedcore_cli.errors import fold, traceback_tail

RAY_TASK_ERROR = (
    "\x1b[36mray::Agent.__ray_call__()\x1b[39m (pid=123, ip=127.0.0.1, actor_id=ab, "
    "repr=<seedcore_cli.organism.actors.Agent object at 0x7f3a2c1d9e50>)\n"
    "Traceback (most recent call last):\n"
    '  File "/x/y.py", line 3, in probe\n'
    "    import seedcore_cli\n"
    "ModuleNotFoundError: No module named 'seedcore_cli'\n"
)


def test_fold_removes_colour_and_reprs_and_joins_lines():
    line = fold(RAY_TASK_ERROR, 1000)
    assert "\x1b" not in line and "0x7f3a2c1d9e50" not in line and "\n" not in line
    assert line.startswith("ray::Agent.__ray_call__() (pid=123")
    assert " / ModuleNotFoundError: No module named 'seedcore_cli'" in line


def test_fold_cuts_long_values():
    assert len(fold("x" * 5000, 300)) == 300 and fold("x" * 5000, 300).endswith("...")


def test_traceback_tail_is_the_exception_line():
    assert traceback_tail(RAY_TASK_ERROR) == "ModuleNotFoundError: No module named 'seedcore_cli'"
    server = ("Initialization failure from server:\nTraceback (most recent call last):\n  File \"p.py\", line 772, "
              "in Datapath\n    raise RuntimeError(\nRuntimeError: Starting Ray client server failed. See "
              "ray_client_server_23001.err for detailed logs.\n")
    assert traceback_tail(server).startswith("RuntimeError: Starting Ray client server failed.")


def test_quoted_keeps_short_values_and_cuts_long_ones():
    from seedcore_cli.errors import quoted

    assert quoted("abc") == "'abc'" and quoted("a\nb") == "'a\\nb'"
    long = quoted("y" * 5000)
    assert long == repr("y" * 80) + "... (5000 characters)"
    junk = quoted("\x00" * 500)  # escapes make a repr 4x longer: still about the limit
    assert len(junk) < 110 and junk.endswith("... (500 characters)") and junk.isprintable()


def test_bare_shows_short_printable_text_as_it_is():
    from seedcore_cli.errors import bare

    assert bare("http://127.0.0.1:8265") == "http://127.0.0.1:8265"
    assert bare("a\nb") == "'a\\nb'" and bare("z" * 500).endswith("... (500 characters)")
