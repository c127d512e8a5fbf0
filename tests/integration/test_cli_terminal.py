"""The real `seedcore` on a pseudo-terminal: teardown's question, `status --watch`, bootstrap's spinner.

Each command runs in a child process whose stdin, stdout and stderr are the slave side of a pty
(what an operator's terminal gives it); the test reads the master side with a bounded select
loop and kills only the child it started, by its pid. Effects are checked with Ray's own API.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest
from support.heads import SEEDCORE, connect_to, run_seedcore
from support.organism import kill_namespace, state_actors, wait_until, write_config

SINGLETONS = {"miss_tracker", "shared_cache", "mw"}
ORGANS = [("cognitive_organ_1", "Cognitive", 1), ("utility_organ_1", "Utility", 1)]
ORGANISM = {"cognitive_organ_1", "cognitive_organ_1_agent_0", "utility_organ_1", "utility_organ_1_agent_0"}

# CSI (colours, cursor moves, erase, ?25l/h), OSC, charset selection and single-character escapes.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHM]")
# What Rich's live display (Live, Status) writes to draw in place.
HIDE_CURSOR, ERASE_LINE = "\x1b[?25l", "\x1b[2K"
CURSOR_UP = re.compile(r"\x1b\[\d*A")
# Child environment: a real terminal type, and nothing that forces or disables terminal behaviour.
_TERMINAL_OVERRIDES = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES",
                       "SEEDCORE_DEBUG", "JUPYTER_COLUMNS", "JUPYTER_LINES")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "")


def child_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _TERMINAL_OVERRIDES}
    env["TERM"] = "xterm-256color"
    return env


class Terminal:
    """`seedcore ARGS` with stdin/stdout/stderr on a pty slave; the test holds the master."""

    def __init__(self, args: list[str], rows: int = 50, cols: int = 160) -> None:
        self.raw = b""
        self.master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            self.process = subprocess.Popen(SEEDCORE + args, stdin=slave, stdout=slave, stderr=slave,
                                            env=child_env(), close_fds=True, start_new_session=True)
        except BaseException:
            os.close(self.master)
            raise
        finally:
            os.close(slave)  # the child holds it now; EOF (EIO) on the master once the child exits

    @property
    def text(self) -> str:
        return strip_ansi(self.raw.decode("utf-8", "replace"))

    def _read_some(self, wait: float) -> bool:
        """Read what the master has within `wait` s; False at end of output."""
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every slave fd is closed, the child is gone
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, predicate, timeout: float, what: str) -> None:
        """Read until predicate(self) holds; fail after `timeout` s with what was seen."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no {what} within {timeout} s; terminal showed:\n{self.text[-3000:]}")
            if not self._read_some(min(remaining, 0.5)) and not predicate(self):
                pytest.fail(f"seedcore ended (exit {self.process.poll()}) before {what}; "
                            f"terminal showed:\n{self.text[-3000:]}")

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def wait(self, timeout: float) -> int:
        """Drain the output until the child exits; its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._read_some(min(0.5, max(deadline - time.monotonic(), 0))):
                break
            if self.process.poll() is not None:
                while self._read_some(0.1):  # what is left in the pty buffer
                    if not select.select([self.master], [], [], 0)[0]:
                        break
                break
        try:
            return self.process.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            pytest.fail(f"seedcore did not exit within {timeout} s; terminal showed:\n{self.text[-3000:]}")

    def close(self) -> None:
        """Kill the child we started (by its pid) if it still runs; close the master."""
        try:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=30)
        finally:
            os.close(self.master)


def base(cluster, namespace: str) -> list[str]:
    return ["--address", cluster.gcs_address, "--namespace", namespace]


def bootstrap(cluster, namespace: str, config: Path) -> None:
    result = run_seedcore([*base(cluster, namespace), "bootstrap", "--config", str(config)], timeout=240)
    assert result.returncode == 0, result.stderr


def alive(cluster, namespace: str) -> set[str]:
    return set(state_actors(cluster, namespace))


def get_actor_or_none(name: str, namespace: str):
    import ray

    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        return None


def test_teardown_on_a_terminal_asks_and_no_keeps_everything_yes_kills_the_organism(
        ray_cluster, namespace, tmp_path, organism_cleanup):
    cfg = write_config(tmp_path / "organism.yaml", ORGANS)
    bootstrap(ray_cluster, namespace, cfg)
    connect_to(ray_cluster, namespace)
    assert alive(ray_cluster, namespace) == ORGANISM | SINGLETONS

    # "n": nothing is killed, exit 1 (cli/organism.py _confirm: EXIT_FAILED, having killed nothing).
    term = Terminal([*base(ray_cluster, namespace), "organism", "teardown"])
    try:
        term.expect(lambda t: "Kill these 4 actor(s)?" in t.text, 120, "confirmation prompt")
        listed = term.text.split("Kill these")[0]
        assert all(name in listed for name in ORGANISM) and not any(name in listed for name in SINGLETONS)
        term.send("n\n")
        code = term.wait(60)
    finally:
        term.close()
    assert code == 1, term.text
    assert "Nothing was killed." in term.text and "Traceback" not in term.text
    time.sleep(1)  # a kill, had one been sent, has landed by now
    assert alive(ray_cluster, namespace) == ORGANISM | SINGLETONS
    assert all(get_actor_or_none(name, namespace) is not None for name in ORGANISM | SINGLETONS)

    # "y": organs and agents are killed, the singletons stay.
    term = Terminal([*base(ray_cluster, namespace), "organism", "teardown"])
    try:
        term.expect(lambda t: "Kill these 4 actor(s)?" in t.text, 120, "confirmation prompt")
        term.send("y\n")
        code = term.wait(120)
    finally:
        term.close()
    assert code == 0, term.text
    assert "Killed 4 actor(s) in namespace " + namespace in term.text and "Traceback" not in term.text
    assert wait_until(lambda: alive(ray_cluster, namespace) == SINGLETONS, timeout=60), \
        alive(ray_cluster, namespace)
    assert wait_until(lambda: all(get_actor_or_none(name, namespace) is None for name in ORGANISM), timeout=60)
    assert all(get_actor_or_none(name, namespace) is not None for name in SINGLETONS)
    dead = state_actors(ray_cluster, namespace, alive_only=False)
    assert {name for name, row in dead.items() if row.state == "DEAD"} == ORGANISM


def test_status_watch_redraws_on_a_terminal_and_stops_cleanly_on_ctrl_c(
        ray_cluster, namespace, tmp_path, organism_cleanup):
    cfg = write_config(tmp_path / "organism.yaml", ORGANS[:1])
    bootstrap(ray_cluster, namespace, cfg)
    connect_to(ray_cluster, namespace)
    assert alive(ray_cluster, namespace) == {"cognitive_organ_1", "cognitive_organ_1_agent_0"} | SINGLETONS

    title = f"Organs in namespace {namespace}"
    term = Terminal([*base(ray_cluster, namespace), "organism", "status", "--watch", "--agents",
                     "--config", str(cfg)])
    try:
        # WATCH_INTERVAL_S is 2 s: three frames within the bound, each drawn over the last.
        term.expect(lambda t: t.text.count(title) >= 3, 120, "three redraws of the organ table")
        raw = term.raw.decode("utf-8", "replace")
        assert HIDE_CURSOR in raw and ERASE_LINE in raw and CURSOR_UP.search(raw), \
            "no live-redraw control sequences"
        assert "cognitive_organ_1_agent_0" in term.text and "1/1" in term.text
        assert "(Ctrl-C to stop)" in term.text
        term.process.send_signal(signal.SIGINT)  # Ctrl-C, to this one child
        code = term.wait(30)
    finally:
        term.close()
    # _watch catches KeyboardInterrupt and returns the last status: exit 0 when healthy.
    assert code == 0, term.text
    tail = term.text.split("(Ctrl-C to stop)")[-1]
    assert "healthy: 1 organ(s), 1 agent(s), 3 singletons in namespace " + namespace in tail
    assert "Traceback" not in term.text and "KeyboardInterrupt" not in term.text
    assert "Aborted" not in term.text
    assert alive(ray_cluster, namespace) == {"cognitive_organ_1", "cognitive_organ_1_agent_0"} | SINGLETONS


def test_bootstrap_shows_progress_on_a_terminal_and_none_off_it(ray_cluster, namespace, tmp_path):
    cfg = write_config(tmp_path / "organism.yaml", ORGANS[:1])
    expected = {"cognitive_organ_1", "cognitive_organ_1_agent_0"} | SINGLETONS
    piped_ns = namespace + "-pipe"
    try:
        term = Terminal([*base(ray_cluster, namespace), "bootstrap", "--config", str(cfg)])
        try:
            code = term.wait(240)
        finally:
            term.close()
        assert code == 0, term.text
        raw = term.raw.decode("utf-8", "replace")
        assert "Starting actors" in term.text, term.text  # the spinner's text (stderr)
        assert HIDE_CURSOR in raw and ERASE_LINE in raw, "no spinner control sequences on the terminal"
        assert re.search(r"Starting actors: \d/5 ready", term.text), term.text  # it counts
        assert "5 actor(s) created, 0 already existed" in term.text

        piped = run_seedcore([*base(ray_cluster, piped_ns), "bootstrap", "--config", str(cfg)], timeout=240)
        assert piped.returncode == 0, piped.stderr
        assert "5 actor(s) created, 0 already existed" in piped.stderr
        assert "Starting actors" not in piped.stderr and "Starting actors" not in piped.stdout
        assert "\x1b" not in piped.stderr and "\x1b" not in piped.stdout
        assert "cognitive_organ_1_agent_0" in piped.stdout  # the table went to stdout, plainly

        connect_to(ray_cluster, namespace)
        assert alive(ray_cluster, namespace) == expected
        assert alive(ray_cluster, piped_ns) == expected
    finally:
        connect_to(ray_cluster, namespace)
        kill_namespace(namespace)
        kill_namespace(piped_ns)
