"""compute_status: phases, container states, conditions, stability."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_kubelet.runtime_state import PodRuntime
from skiff_kubelet.status import compute_status

NOW = timestamp_pb2.Timestamp(seconds=1_700_000_000)
LATER = timestamp_pb2.Timestamp(seconds=1_700_000_100)
RUNNING, EXITED, CREATED = cri.CONTAINER_RUNNING, cri.CONTAINER_EXITED, cri.CONTAINER_CREATED


def pod(names: tuple[str, ...] = ("a",), policy: str = "Always", inits: tuple[str, ...] = ()) -> pod_pb2.Pod:
    p = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="ns", uid="u"))
    p.spec.restart_policy = policy
    for n in names:
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
        started_at=1_700_000_000 * 10**9,
        finished_at=1_700_000_050 * 10**9 if state == EXITED else 0,
        image_ref="sha256:i",
    )


def runtime(*statuses: cri.ContainerStatus, ip: str = "10.88.0.7") -> PodRuntime:
    rt = PodRuntime(sandbox=cri.PodSandboxStatus(id="sb", network=cri.PodSandboxNetworkStatus(ip=ip)))
    for s in statuses:
        rt.containers.setdefault(s.metadata.name, []).append(s)
    for items in rt.containers.values():
        items.sort(key=lambda s: s.metadata.attempt, reverse=True)
    return rt


@pytest.mark.parametrize(
    ("policy", "states", "phase"),
    [
        ("Always", [], "Pending"),
        ("Always", [("a", CREATED, 0)], "Pending"),
        ("Always", [("a", RUNNING, 0)], "Running"),
        ("Always", [("a", EXITED, 0)], "Running"),
        ("Never", [("a", EXITED, 0)], "Succeeded"),
        ("Never", [("a", EXITED, 1)], "Failed"),
        ("OnFailure", [("a", EXITED, 0)], "Succeeded"),
        ("OnFailure", [("a", EXITED, 2)], "Running"),
    ],
)
def test_phase_single_container(policy: str, states: list, phase: str) -> None:
    rt = runtime(*(cs(n, st, exit_code=code) for n, st, code in states))
    assert compute_status(pod(policy=policy), rt, host_ip="127.0.0.1", now=NOW).phase == phase


def test_two_containers_one_still_starting_is_pending() -> None:
    st = compute_status(pod(("a", "b")), runtime(cs("a", RUNNING)), host_ip="h", now=NOW)
    assert st.phase == "Pending"
    assert st.container_statuses[1].state.waiting.reason == "ContainerCreating"


def test_running_pod_status_fields() -> None:
    st = compute_status(pod(), runtime(cs("a", RUNNING, attempt=2)), host_ip="127.0.0.1", now=NOW)
    assert st.pod_ip == "10.88.0.7" and [i.ip for i in st.pod_ips] == ["10.88.0.7"]
    assert st.host_ip == "127.0.0.1" and st.start_time == NOW
    c = st.container_statuses[0]
    assert c.container_id == "skiff://a-2" and c.restart_count == 2 and c.ready and c.image_id == "sha256:i"
    assert c.state.running.started_at.seconds == 1_700_000_000
    conds = {x.type: x.status for x in st.conditions}
    assert conds == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    assert st.qos_class == "BestEffort"


def test_terminated_state_and_last_state() -> None:
    rt = runtime(cs("a", EXITED, attempt=1, exit_code=3), cs("a", EXITED, attempt=0, exit_code=1))
    st = compute_status(pod(policy="Never"), rt, host_ip="h", now=NOW)
    c = st.container_statuses[0]
    assert c.state.terminated.exit_code == 3 and c.state.terminated.reason == "Error"
    assert c.last_state.terminated.exit_code == 1 and not c.ready


def test_crash_loop_waiting_reason_keeps_termination_as_last_state() -> None:
    rt = runtime(cs("a", EXITED, attempt=1, exit_code=1))
    st = compute_status(pod(), rt, host_ip="h", now=NOW, waiting={"a": ("CrashLoopBackOff", "back-off 10s")})
    c = st.container_statuses[0]
    assert c.state.waiting.reason == "CrashLoopBackOff"
    assert c.last_state.terminated.exit_code == 1
    assert st.phase == "Running"


def test_image_pull_error_is_reported_as_waiting() -> None:
    st = compute_status(pod(), runtime(), host_ip="h", now=NOW, waiting={"a": ("ErrImagePull", "nope")})
    assert st.container_statuses[0].state.waiting.reason == "ErrImagePull"
    assert st.phase == "Pending"


def test_init_containers_gate_the_app() -> None:
    p = pod(inits=("init",))
    st = compute_status(p, runtime(cs("init", RUNNING)), host_ip="h", now=NOW)
    assert st.phase == "Pending"
    assert st.container_statuses[0].state.waiting.reason == "PodInitializing"
    assert {c.type: c.status for c in st.conditions}["Initialized"] == "False"
    st = compute_status(p, runtime(cs("init", EXITED), cs("a", RUNNING)), host_ip="h", now=NOW)
    assert st.phase == "Running"
    failed = compute_status(
        pod(policy="Never", inits=("init",)), runtime(cs("init", EXITED, exit_code=1)), host_ip="h", now=NOW
    )
    assert failed.phase == "Failed"


def test_status_is_stable_when_nothing_changes() -> None:
    p = pod()
    rt = runtime(cs("a", RUNNING))
    p.status.CopyFrom(compute_status(p, rt, host_ip="h", now=NOW))
    again = compute_status(p, rt, host_ip="h", now=LATER)
    assert again == p.status  # no write on an unchanged pod


def test_terminal_phase_is_sticky_and_host_network_uses_host_ip() -> None:
    p = pod(policy="Never")
    p.status.phase = "Succeeded"
    p.spec.host_network = True
    st = compute_status(p, PodRuntime(), host_ip="127.0.0.1", now=NOW)
    assert st.phase == "Succeeded" and st.pod_ip == "127.0.0.1"
