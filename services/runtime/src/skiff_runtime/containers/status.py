"""Executor state -> container record: the one place that decides state, exit code and reason."""

from __future__ import annotations

import time

from skiff_runtime.oci.executor import ContainerState, Status
from skiff_runtime.store.container import EXITED, RUNNING, ContainerRecord


def ns(seconds: float | None) -> int:
    """Executor timestamps (float seconds) -> CRI timestamps (int nanoseconds); 0 stays 0."""
    return int(seconds * 1e9) if seconds else 0


def apply_state(record: ContainerRecord, state: ContainerState) -> bool:
    """Update `record` from the executor's view; returns True if anything changed.

    Reason, as the CRI wants it: "OOMKilled" when the memory cgroup killed it, else "Completed" for
    exit code 0 and "Error" for anything else (a signal death is 128+signal, e.g. 137).
    """
    before = (record.state, record.pid, record.started_at, record.finished_at)
    record.pid = state.pid
    record.started_at = ns(state.started_at) or record.started_at
    if state.status is Status.RUNNING:
        record.state = RUNNING
    elif state.status is Status.STOPPED:
        record.state = EXITED
        record.finished_at = ns(state.finished_at) or time.time_ns()
        record.exit_code = state.exit_code if state.exit_code is not None else 255
        if state.oom_killed:
            record.reason = "OOMKilled"
        else:
            record.reason = "Completed" if record.exit_code == 0 else "Error"
        record.pid = 0
    return (record.state, record.pid, record.started_at, record.finished_at) != before
