"""compute_pod_actions: one table row per rule (sandbox, init containers, restarts, back-off, liveness)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_kubelet.plan import compute_pod_actions
from skiff_kubelet.runtime_state import PodRuntime

RUNNING, EXITED, CREATED = cri.CONTAINER_RUNNING, cri.CONTAINER_EXITED, cri.CONTAINER_CREATED
T_EXIT = 1_700_000_000  # wall-clock second at which exited containers finished


def make_pod(apps: tuple[str, ...] = ("a",), inits: tuple[str, ...] = (), policy: str = "Always") -> pod_pb2.Pod:
    p = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="ns", uid="u"))
    p.spec.restart_policy = policy
    p.spec.termination_grace_period_seconds = 7
    for n in apps:
        p.spec.containers.append(container_pb2.Container(name=n, image="busybox"))
    for n in inits:
        p.spec.init_containers.append(container_pb2.Container(name=n, image="busybox"))
    return p


def cs(name: str, state: int, attempt: int = 0, exit_code: int = 0) -> cri.ContainerStatus:
    return cri.ContainerStatus(
        id=f"{name}-{attempt}",
        metadata=cri.ContainerMetadata(name=name, attempt=attempt),
        state=state,
        exit_code=exit_code,
        finished_at=T_EXIT * 10**9 if state == EXITED else 0,
    )


def runtime(*statuses: cri.ContainerStatus, sandbox: int | None = 0, dead: tuple[int, ...] = ()) -> PodRuntime:
    """A pod runtime with a READY sandbox of attempt ``sandbox`` (None: no ready one) and dead ones."""
    rt = PodRuntime()
    attempts = ([sandbox] if sandbox is not None else []) + list(dead)
    for a in sorted(attempts, reverse=True):
        state = cri.SANDBOX_READY if a == sandbox else cri.SANDBOX_NOTREADY
        rt.sandboxes.append(cri.PodSandbox(id=f"sb-{a}", metadata=cri.PodSandboxMetadata(attempt=a), state=state))
    if sandbox is not None:
        rt.sandbox = cri.PodSandboxStatus(id=f"sb-{sandbox}", metadata=cri.PodSandboxMetadata(attempt=sandbox))
    for st in statuses:
        rt.containers.setdefault(st.metadata.name, []).append(st)
    for items in rt.containers.values():
        items.sort(key=lambda s: s.metadata.attempt, reverse=True)
    return rt


@dataclass
class Case:
    name: str
    pod: pod_pb2.Pod
    rt: PodRuntime
    now: float = T_EXIT + 1000.0  # long after every exit: no back-off left unless stated
    unhealthy: tuple[str, ...] = ()
    # expected
    create_sandbox: bool = False
    sandbox_attempt: int = 0
    remove_old: bool = False
    start: list[tuple[str, int, bool, str, tuple[str, ...]]] = field(default_factory=list)
    kill: list[tuple[str, int]] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    requeue: float | None = None


CASES = [
    Case(
        "new pod: sandbox and every app container",
        make_pod(("a", "b")),
        runtime(sandbox=None),
        create_sandbox=True,
        start=[("a", 0, False, "", ()), ("b", 0, False, "", ())],
    ),
    Case(
        "dead sandbox: attempt + 1, old removed, containers from 0",
        make_pod(),
        runtime(cs("a", EXITED, 3), sandbox=None, dead=(2,)),
        create_sandbox=True,
        sandbox_attempt=3,
        remove_old=True,
        start=[("a", 0, False, "", ())],
    ),
    Case("idle: everything runs, nothing to do", make_pod(("a", "b")), runtime(cs("a", RUNNING), cs("b", RUNNING, 2))),
    Case(
        "created but not started: start only",
        make_pod(),
        runtime(cs("a", CREATED, 1)),
        start=[("a", 1, False, "a-1", ())],
    ),
    Case(
        "first init container not run yet: only it",
        make_pod(inits=("i1", "i2")),
        runtime(),
        start=[("i1", 0, True, "", ())],
    ),
    Case("init container running: wait", make_pod(inits=("i1", "i2")), runtime(cs("i1", RUNNING))),
    Case(
        "first init done: the second",
        make_pod(inits=("i1", "i2")),
        runtime(cs("i1", EXITED)),
        start=[("i2", 0, True, "", ())],
    ),
    Case(
        "all init done: the app containers",
        make_pod(inits=("i1",)),
        runtime(cs("i1", EXITED)),
        start=[("a", 0, False, "", ())],
    ),
    Case(
        "init failed, Never: nothing (the pod fails)",
        make_pod(inits=("i1",), policy="Never"),
        runtime(cs("i1", EXITED, exit_code=1)),
    ),
    Case(
        "init failed, OnFailure: restarted after back-off",
        make_pod(inits=("i1",), policy="OnFailure"),
        runtime(cs("i1", EXITED, exit_code=1)),
        start=[("i1", 1, True, "", ())],
    ),
    Case(
        "init failed, in back-off: waits, app not started",
        make_pod(inits=("i1",), policy="OnFailure"),
        runtime(cs("i1", EXITED, exit_code=1)),
        now=T_EXIT + 4.0,
        waiting={"i1": "CrashLoopBackOff"},
        requeue=6.0,
    ),
    Case(
        "exited, Always: restart, keep only the previous attempt",
        make_pod(),
        runtime(cs("a", EXITED, 2), cs("a", EXITED, 1), cs("a", EXITED, 0)),
        start=[("a", 3, False, "", ("a-1", "a-0"))],
    ),
    Case("exited 0, OnFailure: stays done", make_pod(policy="OnFailure"), runtime(cs("a", EXITED))),
    Case(
        "exited 1, OnFailure: restart",
        make_pod(policy="OnFailure"),
        runtime(cs("a", EXITED, exit_code=1)),
        start=[("a", 1, False, "", ())],
    ),
    Case("exited 1, Never: stays", make_pod(policy="Never"), runtime(cs("a", EXITED, exit_code=1))),
    Case(
        "back-off doubles per restart (attempt 2 -> 40 s window)",
        make_pod(),
        runtime(cs("a", EXITED, 2)),
        now=T_EXIT + 10.0,
        waiting={"a": "CrashLoopBackOff"},
        requeue=30.0,
    ),
    Case(
        "back-off of one, start of another",
        make_pod(("a", "b")),
        runtime(cs("a", EXITED)),
        now=T_EXIT + 1.0,
        waiting={"a": "CrashLoopBackOff"},
        requeue=9.0,
        start=[("b", 0, False, "", ())],
    ),
    Case(
        "liveness failed: kill with the pod's grace, look again at once",
        make_pod(("a", "b")),
        runtime(cs("a", RUNNING), cs("b", RUNNING)),
        unhealthy=("b-0",),
        kill=[("b-0", 7)],
        requeue=0.0,
    ),
    Case(
        "liveness verdict for an exited container: no kill",
        make_pod(policy="Never"),
        runtime(cs("a", EXITED)),
        unhealthy=("a-0",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_compute_pod_actions(case: Case) -> None:
    plan = compute_pod_actions(case.pod, case.rt, now=case.now, backoff_base=10.0, unhealthy=case.unhealthy)
    assert (plan.create_sandbox, plan.sandbox_attempt, plan.remove_old_sandboxes) == (
        case.create_sandbox,
        case.sandbox_attempt,
        case.remove_old,
    )
    assert [(s.container.name, s.attempt, s.init, s.created_id, s.remove_after) for s in plan.start] == case.start
    assert [(k.container_id, k.grace) for k in plan.kill] == case.kill
    assert {name: reason for name, (reason, _) in plan.waiting.items()} == case.waiting
    assert plan.requeue_after == (pytest.approx(case.requeue) if case.requeue is not None else None)


def test_liveness_grace_from_the_probe_wins() -> None:
    pod = make_pod()
    pod.spec.containers[0].liveness_probe.termination_grace_period_seconds = 3
    plan = compute_pod_actions(pod, runtime(cs("a", RUNNING)), now=0.0, unhealthy={"a-0"})
    assert [(k.container_id, k.grace) for k in plan.kill] == [("a-0", 3)]


def test_back_off_message_names_the_window() -> None:
    plan = compute_pod_actions(make_pod(), runtime(cs("a", EXITED, 1)), now=T_EXIT + 1.0, backoff_base=10.0)
    assert plan.waiting["a"] == ("CrashLoopBackOff", "back-off 20s restarting failed container=a")
