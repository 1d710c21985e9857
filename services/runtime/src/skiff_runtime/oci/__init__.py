"""skiff_runtime.oci: the OCI executor (bundle in, supervised isolated process out).

Public API: see ``executor.py`` (types, ``Executor`` protocol, ``new_executor``, ``list_ids``,
``remove_cgroup``) and ``errors.py``. Implementation map:

- ``skiff_executor.py``  runtime-side client: reads state files, talks to shims, spawns nsexec
- ``shim.py``            per-container supervisor process: setup, fork, start handshake
- ``supervisor.py``      the shim's event loop: logs, reaping, control socket, state machine
- ``init.py``            the container init between fork and exec
- ``rootfs.py``          mounts, pivot_root, masked/read-only paths
- ``caps.py``            capabilities and credentials
- ``cgroups/``           v1 and v2 drivers
- ``nsexec.py``          ``exec_sync`` helper (setns + fork + exec)
- ``syscalls.py``        ctypes wrappers
"""

from skiff_runtime.oci.errors import (
    ContainerExists,
    ContainerNotFound,
    ExecutorError,
    InvalidBundle,
    InvalidState,
)
from skiff_runtime.oci.executor import (
    ContainerState,
    ContainerStats,
    Executor,
    Status,
    list_ids,
    new_executor,
    remove_cgroup,
)

__all__ = [
    "ContainerExists",
    "ContainerNotFound",
    "ContainerState",
    "ContainerStats",
    "Executor",
    "ExecutorError",
    "InvalidBundle",
    "InvalidState",
    "Status",
    "list_ids",
    "new_executor",
    "remove_cgroup",
]
