"""skiff_runtime.oci: the OCI executor (bundle in, supervised isolated process out).

Public API: see ``executor.py`` (types, ``Executor`` protocol, ``new_executor``, ``list_ids``,
``remove_cgroup``), ``errors.py``, and ``stop_factory(state_root)`` (ends the shim factory of a state
root: for tests and benchmarks; it outlives executors by design). Implementation map:

- ``skiff_executor.py``  runtime-side client: reads state files, talks to shims, spawns nsexec
- ``shim.py``            per-container supervisor process: setup, fork, start handshake
- ``zygote.py``          the shim factory: one pre-imported process per state root forks the shims
                         (``zygote_client.py``: the executor side; ``SKIFF_OCI_ZYGOTE=0`` disables it)
- ``supervisor.py``      the shim's event loop: logs, reaping, control socket, state machine
- ``init.py``            the container init between fork and exec
- ``rootfs.py``          mounts, pivot_root, masked/read-only paths
- ``caps.py``            capabilities and credentials
- ``spec.py``            config.json validation (``jsonfields.py``: typed accessors)
- ``cgroups/``           v1 and v2 drivers; ``devices.py`` is v2's eBPF device allow-list
- ``shim_exec.py``       ``exec_sync`` inside the shim; ``exec_client.py`` the caller side
- ``nsexec.py``          ``exec_sync`` fallback helper process (setns + fork + exec)
- ``syscalls.py``        ctypes wrappers
- ``runc_executor.py``   ``RuncExecutor`` (runc/crun); ``runc_backend.py`` is its shim side
- ``testing.py``         busybox rootfs + config.json builder for tests and the benchmark
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
from skiff_runtime.oci.zygote_client import stop_factory

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
    "stop_factory",
]
