import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from skiff_kubelet.tmpfs import unmount_below

# Shared etcd/apiserver fixtures live with skiff-client's tests (see skiff_cluster_fixture.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "libs" / "skiff-client" / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_fixture import busybox_layout, cgroup_root, runtime  # noqa: F401
from skiff_cluster_fixture import apiserver, client, etcd  # noqa: F401


@pytest.fixture(autouse=True)
def _no_tmpfs_left(tmp_path: Path) -> Iterator[None]:
    """Secret and projected volumes are tmpfs mounts (skiff_kubelet.tmpfs): a test that sets one up
    and stops before its teardown must not leave the mount behind in its temporary folder."""
    yield
    unmount_below(tmp_path)
