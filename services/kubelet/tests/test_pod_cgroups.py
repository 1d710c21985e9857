"""The kubelet removes the pod cgroup it named, in every hierarchy, deepest folder first."""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff_kubelet.pod_cgroups import pod_cgroup_dirs, remove_pod_cgroup


@pytest.mark.parametrize("v2", [False, True])
def test_pod_cgroup_folders_are_removed(tmp_path: Path, v2: bool) -> None:
    if v2:
        (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
        hierarchies = [tmp_path]
    else:
        hierarchies = [tmp_path / name for name in ("cpu", "memory", "pids")]
    for hierarchy in hierarchies:
        (hierarchy / "skiff" / "podabc" / "leftover-container").mkdir(parents=True)
        (hierarchy / "skiff" / "podother").mkdir(parents=True)
    assert pod_cgroup_dirs("/skiff", "abc", fs=tmp_path) == [h / "skiff" / "podabc" for h in hierarchies]
    remove_pod_cgroup("/skiff", "abc", fs=tmp_path)
    for hierarchy in hierarchies:
        assert not (hierarchy / "skiff" / "podabc").exists()
        assert (hierarchy / "skiff" / "podother").is_dir(), "another pod's cgroup was touched"
    remove_pod_cgroup("/skiff", "abc", fs=tmp_path)  # already gone: nothing to do, no error
