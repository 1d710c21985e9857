"""The local cluster's supervisor: restarts any component process that dies, with back-off, and says so.

`skiff up` returns once the cluster is up, so something must stay behind to notice a crash: this small
process (started by `up` as the component "supervisor", stopped first by `down`). There is one per
state folder: the control-plane node's, each control-plane member's, and each joined node's (started
at the end of its join, stopped first by its reset), as systemd watches a kubeadm node's kubelet; a
worker's recorded command lines start with `nsenter --net=...`, so a restart lands in its namespace.
Every second it checks each process `processes.start` recorded (its command line is kept next to its
pid file); one that is gone is started again with the same command line, and the restart is logged to
supervisor.log::

    restart #n of NAME after 2^(n-1) s of back-off (capped at 60 s); a process that then stays up for
    60 s is considered healthy again and its back-off starts over

A deliberate `processes.stop` removes the command-line record first, so `skiff down` (or stopping one
component by hand) is never undone.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import processes

NAME = "supervisor"
POLL_SECONDS = 1.0
BACKOFF_CAP = 60.0
HEALTHY_AFTER = 60.0


@dataclass
class _State:
    restarts: int = 0
    down_since: float | None = None
    started_at: float = 0.0


class Supervisor:
    def __init__(self, pid_dir: Path, log_dir: Path, *, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.pid_dir = pid_dir
        self.log_dir = log_dir
        self.clock = clock
        self.state: dict[str, _State] = {}

    def say(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"{stamp} {line}", flush=True)

    def backoff(self, restarts: int) -> float:
        return min(BACKOFF_CAP, 2.0 ** max(restarts - 1, 0)) if restarts else 0.0

    def check_once(self) -> list[str]:
        """One pass: restart what is due; returns the names restarted."""
        now = self.clock()
        restarted = []
        for name in processes.supervised(self.pid_dir):
            if name == NAME:
                continue
            st = self.state.setdefault(name, _State(started_at=now))
            if processes.running_pid(name, self.pid_dir) is not None:
                st.down_since = None
                if st.restarts and now - st.started_at >= HEALTHY_AFTER:
                    st.restarts = 0
                continue
            if st.down_since is None:
                st.down_since = now
                self.say(f"{name} is not running (see {self.log_dir / (name + '.log')})")
            delay = self.backoff(st.restarts + 1)
            if now - st.down_since < delay:
                continue
            argv = processes.recorded_argv(name, self.pid_dir)
            if argv is None:
                continue  # stopped deliberately in the meantime
            st.restarts += 1
            self.say(f"restarting {name} (restart #{st.restarts}, after {delay:.0f}s back-off)")
            processes.start(name, argv, log_dir=self.log_dir, pid_dir=self.pid_dir)
            st.started_at = self.clock()
            st.down_since = None
            restarted.append(name)
        return restarted

    def run(self) -> None:
        running = True

        def stop(*_: object) -> None:
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.say("supervising the cluster's processes")
        while running:
            try:
                self.check_once()
            except Exception as exc:  # never die: a supervisor that crashes supervises nothing
                self.say(f"supervisor error: {exc}")
            time.sleep(POLL_SECONDS)
        self.say("supervisor stopped")


def ensure(pid_dir: Path, log_dir: Path) -> None:
    """Start the supervisor of this state folder unless it is running (idempotent, as `skiff up`)."""
    if processes.running_pid(NAME, pid_dir) is None:
        argv = [sys.executable, "-m", "skiff_cli.cluster.supervise", str(pid_dir), str(log_dir)]
        processes.start(NAME, argv, log_dir=log_dir, pid_dir=pid_dir)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit("usage: python -m skiff_cli.cluster.supervise PID_DIR LOG_DIR")
    Supervisor(Path(args[0]), Path(args[1])).run()


if __name__ == "__main__":
    main()
