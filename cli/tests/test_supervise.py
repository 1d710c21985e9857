"""The local cluster's supervisor restarts a component that dies (real processes, kill -9), with
back-off, logs it, and never undoes a deliberate stop."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from skiff_cli.cluster import processes
from skiff_cli.cluster.supervise import Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _kill9(name: str, pid_dir: Path) -> None:
    pid = processes.running_pid(name, pid_dir)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.running_pid(name, pid_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes.running_pid(name, pid_dir) is None


def test_a_killed_component_is_restarted_with_backoff(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pids, logs = tmp_path / "pids", tmp_path / "logs"
    now = [1000.0]
    sup = Supervisor(pids, logs, clock=lambda: now[0])
    first = processes.start("controllers", SLEEPER, log_dir=logs, pid_dir=pids)
    try:
        assert sup.check_once() == []  # running: nothing to do
        _kill9("controllers", pids)
        assert sup.check_once() == []  # noticed; the first restart waits 1 s of back-off
        now[0] += 1.0
        assert sup.check_once() == ["controllers"]
        second = processes.running_pid("controllers", pids)
        assert second is not None and second != first
        _kill9("controllers", pids)
        sup.check_once()
        now[0] += 1.0
        assert sup.check_once() == []  # second restart: 2 s of back-off
        now[0] += 1.0
        assert sup.check_once() == ["controllers"]
        out = capsys.readouterr().out
        assert "controllers is not running" in out and "restarting controllers (restart #2" in out
        # A deliberate stop is not undone.
        assert processes.stop("controllers", pids, timeout=5)
        now[0] += 100.0
        assert sup.check_once() == [] and processes.running_pid("controllers", pids) is None
    finally:
        processes.stop("controllers", pids, timeout=5)


def test_backoff_doubles_up_to_a_cap() -> None:
    sup = Supervisor(Path("/nonexistent"), Path("/nonexistent"))
    assert [sup.backoff(n) for n in (1, 2, 3, 4, 8, 20)] == [1, 2, 4, 8, 60, 60]
