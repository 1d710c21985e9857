"""Executor state -> CRI container state, exit code and reason (a rule table)."""

from __future__ import annotations

import pytest
from skiff_runtime.containers.status import apply_state, ns
from skiff_runtime.oci.executor import ContainerState, Status
from skiff_runtime.store.container import CREATED, EXITED, RUNNING, ContainerRecord


def _record() -> ContainerRecord:
    return ContainerRecord(
        id="c",
        sandbox_id="s",
        name="n",
        config="",
        image_id="i",
        image_ref="i",
        user_image="busybox",
        state=CREATED,
        created_at=1,
        bundle="/b",
        rootfs="/b/r",
        cgroups_path="/x",
    )


def _state(status: Status, exit_code: int | None = None, oom: bool = False) -> ContainerState:
    return ContainerState(
        id="c",
        status=status,
        pid=0 if status is Status.STOPPED else 42,
        exit_code=exit_code,
        oom_killed=oom,
        created_at=1.0,
        started_at=2.0,
        finished_at=3.5 if status is Status.STOPPED else None,
    )


@pytest.mark.parametrize(
    ("state", "want"),
    [
        (_state(Status.CREATED), (CREATED, 0, "", 42)),
        (_state(Status.RUNNING), (RUNNING, 0, "", 42)),
        (_state(Status.STOPPED, 0), (EXITED, 0, "Completed", 0)),
        (_state(Status.STOPPED, 1), (EXITED, 1, "Error", 0)),
        (_state(Status.STOPPED, 137), (EXITED, 137, "Error", 0)),
        (_state(Status.STOPPED, 137, oom=True), (EXITED, 137, "OOMKilled", 0)),
    ],
)
def test_apply_state(state: ContainerState, want: tuple[str, int, str, int]) -> None:
    record = _record()
    assert apply_state(record, state) is (want != (CREATED, 0, "", 0))
    assert (record.state, record.exit_code, record.reason, record.pid) == want
    assert record.started_at == 2_000_000_000
    if state.status is Status.STOPPED:
        assert record.finished_at == 3_500_000_000
    assert apply_state(record, state) is False  # applying the same state again changes nothing


def test_ns() -> None:
    assert (ns(None), ns(0.0), ns(1.25)) == (0, 0, 1_250_000_000)
