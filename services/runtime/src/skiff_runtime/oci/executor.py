"""The OCI executor boundary (see SPEC-RUNTIME.md): types, the ``Executor`` protocol, and factories.

The CRI layer hands over an OCI bundle; an executor turns it into a supervised process. Three
implementations share this interface: ``skiff`` (our own, ``skiff_executor.py``: a Python shim per
container, forked from a pre-imported shim factory (``zygote.py``); namespaces and cgroups via ctypes)
and ``runc``/``crun`` (``runc_executor.py``, driving the Debian binaries; same shims) for comparison
and as a fallback.

Status, as seen by callers::

    create()──> CREATED ──start()──> RUNNING ──(exit | kill)──> STOPPED ──delete()──> gone
                   └──────────────(kill)───────────────────────────┘

Extensions beyond the spec: ``stats()`` (cgroup CPU/memory for the kubelet's summary API),
``ContainerStats``, and ``remove_cgroup()`` for pod-level parent cgroups.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from skiff_runtime.oci.cgroups import remove_cgroup
from skiff_runtime.oci.state import STATE_FILE

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
    oom_killed: bool  # the memory cgroup OOM-killed it (then exit_code is 137)
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
        timeout: float | None = None,  # noqa: ASYNC109 - the boundary's contract (SPEC-RUNTIME.md)
    ) -> tuple[int, bytes, bytes]: ...
    async def stats(self, container_id: str) -> ContainerStats: ...


def list_ids(state_root: Path) -> list[str]:
    """Ids of containers whose shim state exists (works for every executor: they share the layout)."""
    if not state_root.is_dir():
        return []
    return sorted(d.name for d in state_root.iterdir() if (d / STATE_FILE).is_file())


def new_executor(name: str = "skiff", *, state_root: Path = DEFAULT_STATE_ROOT) -> Executor:
    if name == "skiff":
        from skiff_runtime.oci.skiff_executor import SkiffExecutor

        return SkiffExecutor(state_root)
    if name in ("runc", "crun"):
        from skiff_runtime.oci.runc_executor import RuncExecutor

        return RuncExecutor(name, state_root)
    raise ValueError(f"executor: Unsupported value {name!r} (expected 'skiff', 'runc' or 'crun')")


__all__ = [
    "ContainerState",
    "ContainerStats",
    "Executor",
    "Status",
    "list_ids",
    "new_executor",
    "remove_cgroup",
]
