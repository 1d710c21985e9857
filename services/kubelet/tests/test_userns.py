"""The kubelet's user-namespace manager and what it puts in the CRI configs (``hostUsers: false``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_kubelet import volumes
from skiff_kubelet.container import build_container_config
from skiff_kubelet.sandbox import build_sandbox_config
from skiff_kubelet.userns import LENGTH, PodIdRange, UsernsError, UsernsManager, subordinate_range


def pod(uid: str, host_users: bool | None = False) -> pod_pb2.Pod:
    p = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name=f"p-{uid}", namespace="ns", uid=uid))
    c = container_pb2.Container(name="c", image="busybox")
    c.volume_mounts.add(name="host", mount_path="/host")
    c.volume_mounts.add(name="scratch", mount_path="/scratch")
    p.spec.containers.append(c)
    p.spec.volumes.add(name="host").host_path.path = "/srv"
    p.spec.volumes.add(name="scratch").empty_dir.SetInParent()
    if host_users is not None:
        p.spec.host_users = host_users
    return p


def test_each_pod_gets_its_own_range_above_the_hosts_ids(tmp_path: Path) -> None:
    m = UsernsManager(str(tmp_path))
    ranges = [m.range_for(pod(f"u{i}")) for i in range(5)]
    bases = [r.host_base for r in ranges if r is not None]
    assert len(set(bases)) == 5 and min(bases) >= LENGTH
    assert all(b % LENGTH == 0 and r.length == LENGTH for b, r in zip(bases, ranges, strict=True) if r)
    assert m.range_for(pod("u1")) == ranges[1]  # asked again: the same
    assert m.range_for(pod("host", None)) is None and m.range_for(pod("host2", True)) is None


def test_ranges_survive_a_kubelet_restart(tmp_path: Path) -> None:
    first = UsernsManager(str(tmp_path))
    a, b = first.range_for(pod("a")), first.range_for(pod("b"))
    again = UsernsManager(str(tmp_path))  # a restarted kubelet: nothing but the pod directories
    assert again.range_for(pod("a")) == a and again.range_for(pod("b")) == b
    c = again.range_for(pod("c"))
    assert c is not None and c not in (a, b)
    assert set(again.in_use().values()) == {"a", "b", "c"}


def test_a_deleted_pods_range_is_released_and_reused(tmp_path: Path) -> None:
    m = UsernsManager(str(tmp_path))
    a = m.range_for(pod("a"))
    m.range_for(pod("b"))
    volumes.teardown(str(tmp_path), "a")  # the pod is gone for good: its directory goes
    assert "a" not in m.in_use().values()
    assert m.range_for(pod("c")) == a  # the lowest free range again
    m.release("c")
    assert set(m.in_use().values()) == {"b"}


def test_exhausted_and_corrupt(tmp_path: Path) -> None:
    m = UsernsManager(str(tmp_path), ids=range(LENGTH, 3 * LENGTH, LENGTH))
    m.range_for(pod("a"))
    m.range_for(pod("b"))
    with pytest.raises(UsernsError, match="no free user namespace id range"):
        m.range_for(pod("c"))
    (tmp_path / "pods" / "a" / "userns").write_text("{not json")
    with pytest.raises(UsernsError, match="unreadable"):
        m.range_for(pod("a"))


@pytest.mark.parametrize(
    ("subuid", "subgid", "expected"),
    [
        ("kubelet:65536:131072\n", "kubelet:65536:131072\n", range(65536, 196608, LENGTH)),
        ("other:1:2\n", "other:1:2\n", range(LENGTH, 111 * LENGTH, LENGTH)),  # no entry: --max-pods ranges
        ("kubelet:65536:131072\n", "kubelet:131072:65536\n", UsernsError),
        ("kubelet:1000:65536\n", "kubelet:1000:65536\n", UsernsError),
        ("kubelet:65536:4294901760\n", "kubelet:65536:4294901760\n", UsernsError),  # would reach id 2**32-1
    ],
)
def test_subordinate_ids_of_the_kubelet_user(tmp_path: Path, subuid: str, subgid: str, expected: object) -> None:
    (tmp_path / "subuid").write_text(subuid)
    (tmp_path / "subgid").write_text(subgid)
    files = (str(tmp_path / "subuid"), str(tmp_path / "subgid"))
    if expected is UsernsError:
        with pytest.raises(UsernsError):
            subordinate_range(files=files)
    else:
        assert subordinate_range(files=files) == expected


def test_configs_carry_the_range_and_idmap_all_but_host_paths() -> None:
    p, r = pod("u"), PodIdRange(5 * LENGTH)
    sb = build_sandbox_config(p, pod_log_dir="/l", userns=r)
    u = sb.linux.security_context.namespace_options.userns_options
    assert u.mode == cri.POD
    assert [(m.host_id, m.container_id, m.length) for m in u.uids] == [(5 * LENGTH, 0, LENGTH)]
    assert list(u.gids) == list(u.uids)
    paths = {"host": "/srv", "scratch": "/var/lib/k/pods/u/volumes/scratch"}
    cfg = build_container_config(
        p, p.spec.containers[0], attempt=0, image_ref="busybox", env=[], volume_paths=paths, hosts_path="/k/hosts"
    )
    assert not cfg.linux.security_context.namespace_options.HasField("userns_options")
    assert all(not m.uidMappings for m in cfg.mounts)
    cfg = build_container_config(
        p, p.spec.containers[0], attempt=0, image_ref="busybox", env=[], volume_paths=paths, hosts_path="/k/hosts",
        userns=r,
    )  # fmt: skip
    assert cfg.linux.security_context.namespace_options.userns_options == u
    mapped = {m.container_path: [(x.host_id, x.length) for x in m.uidMappings] for m in cfg.mounts}
    assert mapped == {"/host": [], "/scratch": [(5 * LENGTH, LENGTH)], "/etc/hosts": [(5 * LENGTH, LENGTH)]}
    plain = build_sandbox_config(pod("h", None), pod_log_dir="/l")
    assert not plain.linux.security_context.namespace_options.HasField("userns_options")
