"""The OCI executor boundary: types, the ``Executor`` protocol, and the registry of implementations.

The CRI layer hands over an OCI bundle; an executor turns it into a supervised process. Three
implementations share this interface: ``skiff`` (our own, ``skiff.py``: a Python shim per container,
forked from a pre-imported shim factory (``shim/zygote.py``); namespaces and cgroups via ctypes) and
``runc``/``crun`` (``runc.py``, driving the Debian binaries; same shims) for comparison and as a
fallback. Implementations ``register`` themselves by name when imported (the package's
``__init__`` imports the built-in ones); this module never imports them, as containerd's plugin
registry does not import its plugins.

Status, as seen by callers::

    create()──> CREATED ──start()──> RUNNING ──(exit | kill)──> STOPPED ──delete()──> gone
                   └──────────────(kill)───────────────────────────┘

Extensions beyond the OCI runtime spec's operations: ``exec_sync()``, ``reopen_log()``, ``stats()``
(cgroup CPU/memory for the kubelet's summary API) with ``ContainerStats``, and, from the package,
``remove_cgroup()`` for pod-level parent cgroups.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from skiff_runtime.oci.wire import STATE_FILE

DEFAULT_STATE_ROOT = Path("/run/skiff/oci")


class Status(enum.StrEnum):  # a str, as the spec requires
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ContainerState:
    id: str
    status: Status
    pid: int  # host pid of the container's init (0 when stopped/unknown)
    exit_code: int | None  # set when STOPPED; 128+signal for a signal death (SIGKILL -> 137)
    oom_killed: bool  # the OOM killer killed a process in its cgroup (the init: exit_code 137)
    created_at: float
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True)
class ContainerStats:
    cpu_usage_ns: int  # cumulative CPU time of the container's cgroup
    memory_working_set_bytes: int  # usage minus inactive file cache (what the kubelet evicts on)
    memory_usage_bytes: int
    timestamp: float  # unix seconds when sampled


class Executor(Protocol):
    name: str
    user_namespaces: bool  # can run user-namespace pods: idmapped mounts work

    async def create(self, container_id: str, bundle: Path, *, log_path: Path | None) -> ContainerState: ...
    async def start(self, container_id: str) -> None: ...
    async def kill(self, container_id: str, signal: int) -> None: ...
    async def state(self, container_id: str) -> ContainerState: ...
    async def wait(self, container_id: str) -> ContainerState: ...
    async def delete(self, container_id: str) -> None: ...
    async def reopen_log(self, container_id: str) -> None: ...
    async def exec_sync(
        self,
        container_id: str,
        argv: list[str],
        *,
        env: list[str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the boundary's contract: the CRI gives a timeout
    ) -> tuple[int, bytes, bytes]: ...
    async def stats(self, container_id: str) -> ContainerStats: ...


class ExecutorFactory(Protocol):
    def __call__(self, name: str, state_root: Path) -> Executor: ...


_registry: dict[str, ExecutorFactory] = {}


def register(name: str, factory: ExecutorFactory) -> None:
    """Make ``new_executor(name)`` build executors with ``factory``; a name is registered once."""
    if name in _registry:
        raise ValueError(f"executor {name!r} is already registered")
    _registry[name] = factory


def names() -> list[str]:
    return sorted(_registry)


def list_ids(state_root: Path) -> list[str]:
    """Ids of containers whose shim state exists (works for every executor: they share the layout)."""
    if not state_root.is_dir():
        return []
    return sorted(d.name for d in state_root.iterdir() if (d / STATE_FILE).is_file())


def new_executor(name: str = "skiff", *, state_root: Path = DEFAULT_STATE_ROOT) -> Executor:
    factory = _registry.get(name)
    if factory is None:
        expected = ", ".join(repr(n) for n in names())
        raise ValueError(f"executor: Unsupported value {name!r} (expected one of {expected})")
    return factory(name, state_root)
