"""The daemon side of the OCI executor: what the runtime service calls, and how it reaches the shims.

Public API: ``Executor`` (the protocol), ``ContainerState``/``ContainerStats``/``Status``,
``new_executor(name)`` over the registry of implementations, ``list_ids``, ``remove_cgroup`` (pod-level
parent cgroups), ``stop_factory`` (ends the shim factory of a state root: for tests and benchmarks; it
outlives executors by design), and the errors of ``oci/errors.py``.

- ``api.py``            the protocol, its types and the registry (imports no implementation)
- ``skiff.py``          ``SkiffExecutor``: reads the shims' records, asks the factory for shims
- ``runc.py``           ``RuncExecutor``: the same shims with ``runc``/``crun`` doing the isolation
- ``shim_client.py``    requests on a shim's control socket; waiting for a shim to exit
- ``exec_client.py``    ``exec_sync``: through the shim, else a fresh ``nsexec`` helper
- ``zygote_client.py``  find, start and ask the shim factory (``SKIFF_OCI_ZYGOTE=0`` disables it)

Importing this package registers the built-in executors (``skiff``, ``runc``, ``crun``). Nothing here
runs in a shim; what does lives in ``oci/shim/``, and what both sides pass each other in
``oci/wire.py``.
"""

from skiff_runtime.oci.cgroups import remove_cgroup
from skiff_runtime.oci.errors import (
    ContainerExists,
    ContainerNotFound,
    ExecutorError,
    InvalidBundle,
    InvalidState,
)
from skiff_runtime.oci.executor import runc, skiff  # noqa: F401 - registers the built-in executors
from skiff_runtime.oci.executor.api import (
    ContainerState,
    ContainerStats,
    Executor,
    Status,
    list_ids,
    new_executor,
    register,
)
from skiff_runtime.oci.executor.zygote_client import stop_factory

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
    "register",
    "remove_cgroup",
    "stop_factory",
]
