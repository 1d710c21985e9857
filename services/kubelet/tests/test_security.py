"""What the kubelet decides of a pod's securityContext: seccomp profile choice, privileged sandboxes,
runAsNonRoot against the image's user, fsGroup as a supplemental group, the pod PID limit."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

import pytest
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_kubelet import security
from skiff_kubelet.container import build_container_config
from skiff_kubelet.env import ConfigError
from skiff_kubelet.pod_cgroups import limit_pod_pids, remove_pod_cgroup
from skiff_kubelet.sandbox import build_sandbox_config

ROOT = Path("/var/lib/skiff/kubelet/seccomp")
RD, UNC, LOCAL = cri.SecurityProfile.RuntimeDefault, cri.SecurityProfile.Unconfined, cri.SecurityProfile.Localhost


def _pod(pod_profile: str = "", container_profile: str = "", local: str = "") -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="web", namespace="ns", uid="u-1"))
    c = container_pb2.Container(name="c", image="busybox")
    if container_profile:
        c.security_context.seccomp_profile.type = container_profile
        if local:
            c.security_context.seccomp_profile.localhost_profile = local
    if pod_profile:
        pod.spec.security_context.seccomp_profile.type = pod_profile
    pod.spec.containers.append(c)
    return pod


@pytest.mark.parametrize(
    ("pod_profile", "container_profile", "default", "want"),
    [
        ("", "", False, UNC),  # nothing asked, --seccomp-default off
        ("", "", True, RD),  # --seccomp-default
        ("Unconfined", "", True, UNC),  # the pod's choice beats the kubelet default
        ("RuntimeDefault", "Unconfined", False, UNC),  # the container's beats the pod's
        ("Unconfined", "RuntimeDefault", False, RD),
    ],
)
def test_seccomp_profile_choice(pod_profile: str, container_profile: str, default: bool, want: int) -> None:
    pod = _pod(pod_profile, container_profile)
    got = security.seccomp_profile(pod, pod.spec.containers[0], seccomp_default=default, seccomp_root=ROOT)
    assert got.profile_type == want


def test_localhost_profile_is_resolved_in_the_seccomp_dir() -> None:
    pod = _pod(container_profile="Localhost", local="profiles/audit.json")
    got = security.seccomp_profile(pod, pod.spec.containers[0], seccomp_default=True, seccomp_root=ROOT)
    assert (got.profile_type, got.localhost_ref) == (LOCAL, str(ROOT / "profiles/audit.json"))


@pytest.mark.parametrize("local", ["", "/etc/profile.json", "../../etc/shadow"])
def test_localhost_profile_outside_the_dir_is_a_config_error(local: str) -> None:
    pod = _pod(container_profile="Localhost", local=local)
    with pytest.raises(ConfigError, match=r"securityContext\.seccompProfile\.localhostProfile"):
        security.seccomp_profile(pod, pod.spec.containers[0], seccomp_default=False, seccomp_root=ROOT)


def test_container_config_carries_seccomp_and_fs_group() -> None:
    pod = _pod()
    pod.spec.security_context.fs_group = 2000
    pod.spec.security_context.supplemental_groups.extend([3000])
    config = build_container_config(
        pod, pod.spec.containers[0], attempt=0, image_ref="sha256:x", env=[], volume_paths={}, seccomp_default=True
    )
    sc = config.linux.security_context
    assert sc.seccomp.profile_type == RD
    assert list(sc.supplemental_groups) == [3000, 2000]


def test_sandbox_is_privileged_when_any_container_is() -> None:
    pod = _pod()
    assert not build_sandbox_config(pod, pod_log_dir="/logs").linux.security_context.privileged
    init = pod.spec.init_containers.add(name="setup", image="busybox")
    init.security_context.privileged = True
    assert build_sandbox_config(pod, pod_log_dir="/logs").linux.security_context.privileged


def _image(uid: int | None = None, username: str = "") -> cri.Image:
    image = cri.Image(id="sha256:x", username=username)
    if uid is not None:
        image.uid.value = uid
    return image


@pytest.mark.parametrize(
    ("run_as_user", "image", "error"),
    [
        (None, _image(uid=0), "container has runAsNonRoot and image will run as root"),
        (None, _image(), "container has runAsNonRoot and image will run as root"),  # no user: root
        (None, _image(username="app"), "image has non-numeric user (app), cannot verify user is non-root"),
        (0, _image(uid=1000), "container's runAsUser breaks non-root policy"),
        (None, _image(uid=1000), None),
        (1000, _image(uid=0), None),  # runAsUser wins over the image's root user
    ],
)
def test_run_as_non_root(run_as_user: int | None, image: cri.Image, error: str | None) -> None:
    pod = _pod()
    pod.spec.security_context.run_as_non_root = True
    c = pod.spec.containers[0]
    if run_as_user is not None:
        c.security_context.run_as_user = run_as_user
    if error is None:
        security.verify_run_as_non_root(pod, c, image)
        return
    with pytest.raises(ConfigError) as err:
        security.verify_run_as_non_root(pod, c, image)
    assert error in str(err.value)
    assert '(pod: "web_ns(u-1)", container: c)' in str(err.value)


def test_run_as_non_root_false_on_the_container_overrides_the_pod() -> None:
    pod = _pod()
    pod.spec.security_context.run_as_non_root = True
    pod.spec.containers[0].security_context.run_as_non_root = False
    security.verify_run_as_non_root(pod, pod.spec.containers[0], _image(uid=0))


@pytest.mark.parametrize("v2", [False, True])
def test_pod_pids_limit_on_a_fake_tree(tmp_path: Path, v2: bool) -> None:
    if v2:
        (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
        (tmp_path / "cgroup.subtree_control").write_text("")
        (tmp_path / "skiff").mkdir()
        (tmp_path / "skiff" / "cgroup.subtree_control").write_text("")
    else:
        (tmp_path / "pids").mkdir()
    limit_pod_pids("skiff", "abc", 4096, fs=tmp_path)
    folder = (tmp_path if v2 else tmp_path / "pids") / "skiff" / "podabc"
    assert (folder / "pids.max").read_text() == "4096"
    if v2:
        assert (tmp_path / "cgroup.subtree_control").read_text() == "+pids"
    limit_pod_pids("skiff", "other", -1, fs=tmp_path)  # no limit: nothing created
    assert not ((tmp_path if v2 else tmp_path / "pids") / "skiff" / "podother").exists()


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root and the real cgroup tree")
def test_pod_pids_limit_on_the_real_tree() -> None:
    root, uid = f"skiff-test-pids-{secrets.token_hex(3)}", "u1"
    try:
        limit_pod_pids(root, uid, 77)
        fs = Path("/sys/fs/cgroup")
        base = fs if (fs / "cgroup.controllers").exists() else fs / "pids"
        assert (base / root / f"pod{uid}" / "pids.max").read_text().strip() == "77"
    finally:
        remove_pod_cgroup(root, uid)
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            if (hierarchy / root).is_dir():
                (hierarchy / root).rmdir()


@pytest.mark.parametrize(("value", "ok"), [(-1, True), (4096, True), (0, False), (-5, False)])
def test_pod_max_pids_flag_is_validated(value: int, ok: bool) -> None:
    from skiff_kubelet.config import KubeletConfig

    cfg = KubeletConfig(node_name="n", pod_max_pids=value)
    if ok:
        cfg.validate()
        return
    with pytest.raises(ValueError, match="--pod-max-pids"):
        cfg.validate()


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root and the real cgroup tree")
def test_fork_bomb_stays_inside_its_pod() -> None:
    """Two "containers" (child cgroups) of one pod share the pod's pids.max: once the first has used
    the budget, the second cannot fork, while the node (this test) still can."""
    import subprocess

    root, uid = f"skiff-test-pids-{secrets.token_hex(3)}", "bomb"
    fs = Path("/sys/fs/cgroup")
    base = fs if (fs / "cgroup.controllers").exists() else fs / "pids"
    pod = base / root / f"pod{uid}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        limit_pod_pids(root, uid, 8)
        for name in ("c1", "c2"):
            (pod / name).mkdir()
        # each shell moves itself into its container cgroup, then forks sleeps until fork fails
        script = 'echo $$ > "$1/cgroup.procs"; n=0; while [ $n -lt 20 ]; do sleep 60 & n=$((n+1)); done; wait'
        for name in ("c1", "c2"):
            procs.append(subprocess.Popen(["sh", "-c", script, "sh", str(pod / name)], stderr=subprocess.PIPE))
            if name == "c1":
                for _ in range(200):
                    if int((pod / "pids.current").read_text()) >= 8:
                        break
                    time.sleep(0.05)
        procs[1].wait(timeout=60)  # c2 found no room: its shell gave up (ash: "can't fork")
        assert int((pod / "pids.current").read_text()) <= 8
        assert b"fork" in (procs[1].stderr.read() if procs[1].stderr else b"")
        assert int((pod / "c2" / "pids.current").read_text()) <= 1
        assert subprocess.run(["true"], check=False).returncode == 0  # the node still forks
    finally:
        for folder in (pod / "c1", pod / "c2"):
            if folder.is_dir():
                for pid in (folder / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
        for p in procs:
            p.wait(timeout=30)
        for _ in range(100):  # killed processes take a moment to leave the cgroup
            remove_pod_cgroup(root, uid)
            if not pod.exists():
                break
            time.sleep(0.05)
        for hierarchy in fs.iterdir():
            if (hierarchy / root).is_dir():
                (hierarchy / root).rmdir()
