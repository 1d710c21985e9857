"""cgroup drivers, chosen from the host.

A host is pure cgroup v2 when ``/sys/fs/cgroup/cgroup.controllers`` exists (the unified hierarchy is
mounted at the root). Otherwise it is v1 or hybrid (v1 controllers plus an often empty
``/sys/fs/cgroup/unified``); in hybrid mode every resource controller lives on v1, so we use v1.
"""

from __future__ import annotations

import functools
import os

from skiff_runtime.oci.cgroups.base import CgroupDriver, CgroupStats
from skiff_runtime.oci.cgroups.v1 import CgroupV1
from skiff_runtime.oci.cgroups.v2 import CgroupV2

__all__ = ["CgroupDriver", "CgroupStats", "CgroupV1", "CgroupV2", "detect_driver", "host_driver", "remove_cgroup"]


def detect_driver(root: str = "/sys/fs/cgroup") -> CgroupDriver:
    if os.path.exists(f"{root}/cgroup.controllers"):
        return CgroupV2(root)
    return CgroupV1(root)


@functools.cache
def host_driver() -> CgroupDriver:
    """``detect_driver()`` once per process. For the shim factory, which probes at start-up so that
    its forked shims skip the probe (a listdir and a realpath per hierarchy, ~0.5 ms per create);
    how the host mounts its cgroup hierarchies does not change while a factory lives."""
    return detect_driver()


def remove_cgroup(path: str) -> None:
    """Remove a (pod-level) cgroup and its empty children on every hierarchy. Fails with EBUSY if
    processes are still inside: kill and delete the containers first."""
    detect_driver().remove(path)
