"""One sync's plan: what to do to make the runtime match a pod (Kubernetes' ``computePodActions``).

A pure function of the pod spec, the cached runtime status of the pod, the clock and the liveness
verdicts, so every rule is a row in a table test and the executor (``actions.py``) only carries out
what was decided. The rules, in order:

* no READY sandbox                -> (re)create it with attempt + 1; the old sandboxes (and their
                                     containers) are removed first, so the new one starts empty and
                                     every container starts again from attempt 0
* a running container whose liveness probe failed
                                  -> kill it (restartPolicy decides the rest on the next sync)
* init containers, one at a time  -> start the first that has not run; start one that was created but
                                     not started; wait for one that runs; restart a failed one (unless
                                     restartPolicy is Never: the pod fails) after its back-off
* app containers (all init done)  -> start those that never ran or were only created; restart exited
                                     ones per restartPolicy after CrashLoopBackOff (10 s doubling,
                                     capped at 5 min, counted from the container's exit)

A container in back-off gets a waiting reason and the plan asks to be looked at again when the
back-off ends (``requeue_after``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri

from skiff_kubelet.killing import grace_seconds
from skiff_kubelet.runtime_state import PodRuntime

BACKOFF_BASE = 10.0
BACKOFF_MAX = 300.0


def crash_backoff(restarts: int, base: float = BACKOFF_BASE) -> float:
    return min(base * (2 ** max(restarts - 1, 0)), BACKOFF_MAX) if restarts else 0.0


@dataclass(frozen=True)
class StartContainer:
    container: container_pb2.Container
    attempt: int
    init: bool = False
    created_id: str = ""  # already created by an earlier sync: only StartContainer is left
    remove_after: tuple[str, ...] = ()  # attempts older than the previous one, removed once restarted


@dataclass(frozen=True)
class KillContainer:
    container_id: str
    name: str
    grace: int


@dataclass
class PodActions:
    create_sandbox: bool = False
    sandbox_attempt: int = 0  # of the sandbox the containers run in (the existing or the new one)
    remove_old_sandboxes: bool = False
    kill: list[KillContainer] = field(default_factory=list)
    start: list[StartContainer] = field(default_factory=list)
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # CrashLoopBackOff reasons
    requeue_after: float | None = None


def compute_pod_actions(
    pod: pod_pb2.Pod,
    rt: PodRuntime,
    *,
    now: float,
    backoff_base: float = BACKOFF_BASE,
    unhealthy: Collection[str] = (),
) -> PodActions:
    """The plan for one sync. ``now`` is wall-clock seconds (CRI's finishedAt is wall clock);
    ``unhealthy`` holds the ids of containers whose liveness probe failed."""
    actions = PodActions()
    if rt.sandbox is None:
        actions.create_sandbox = True
        actions.sandbox_attempt = (rt.sandboxes[0].metadata.attempt + 1) if rt.sandboxes else 0
        actions.remove_old_sandboxes = bool(rt.sandboxes)
        rt = PodRuntime()  # the old containers go with the old sandboxes
    else:
        actions.sandbox_attempt = rt.sandbox.metadata.attempt
    for c in pod.spec.containers:
        latest = rt.latest(c.name)
        if latest is not None and latest.state == cri.CONTAINER_RUNNING and latest.id in unhealthy:
            grace = (
                c.liveness_probe.termination_grace_period_seconds
                if c.liveness_probe.HasField("termination_grace_period_seconds")
                else grace_seconds(pod)
            )
            actions.kill.append(KillContainer(latest.id, c.name, grace))
    requeues = _containers_to_start(pod, rt, actions, now, backoff_base)
    if actions.kill:
        requeues.append(0.0)  # look again at once: restartPolicy restarts what was killed
    actions.requeue_after = min(requeues) if requeues else None
    return actions


def _containers_to_start(
    pod: pod_pb2.Pod, rt: PodRuntime, actions: PodActions, now: float, backoff_base: float
) -> list[float]:
    policy = pod.spec.restart_policy or "Always"
    for c in pod.spec.init_containers:
        latest = rt.latest(c.name)
        if latest is None:
            actions.start.append(StartContainer(c, 0, init=True))
            return []
        if latest.state == cri.CONTAINER_CREATED:
            actions.start.append(StartContainer(c, latest.metadata.attempt, init=True, created_id=latest.id))
            return []
        if latest.state != cri.CONTAINER_EXITED:
            return []  # running: wait for it
        if latest.exit_code == 0:
            continue
        if policy == "Never":
            return []  # the pod fails (status computes Failed)
        delay = _restart(c, rt, actions, now, backoff_base, init=True)
        return [delay] if delay else []
    requeues: list[float] = []
    for c in pod.spec.containers:
        latest = rt.latest(c.name)
        if latest is None:
            actions.start.append(StartContainer(c, 0))
        elif latest.state == cri.CONTAINER_CREATED:
            actions.start.append(StartContainer(c, latest.metadata.attempt, created_id=latest.id))
        elif latest.state == cri.CONTAINER_EXITED:
            if policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0):
                delay = _restart(c, rt, actions, now, backoff_base)
                if delay:
                    requeues.append(delay)
    return requeues


def _restart(
    c: container_pb2.Container,
    rt: PodRuntime,
    actions: PodActions,
    now: float,
    backoff_base: float,
    *,
    init: bool = False,
) -> float:
    """Start the next attempt of an exited container, or wait out its back-off (returns the wait)."""
    history = rt.containers[c.name]
    latest = history[0]
    restarts = latest.metadata.attempt + 1
    window = crash_backoff(restarts, backoff_base)
    delay = window
    if latest.finished_at:
        delay -= now - latest.finished_at / 1e9  # the time since the exit counts towards the window
    if delay > 0:
        actions.waiting[c.name] = ("CrashLoopBackOff", f"back-off {window:g}s restarting failed container={c.name}")
        return delay
    # Keep only the previous attempt (for logs --previous); older ones go once the new one is started.
    actions.start.append(StartContainer(c, restarts, init=init, remove_after=tuple(s.id for s in history[1:])))
    return 0.0
