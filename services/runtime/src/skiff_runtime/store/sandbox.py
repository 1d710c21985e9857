"""Sandbox records.

    RunPodSandbox                                     StopPodSandbox          RemovePodSandbox
    ------------> CREATING --(namespaces, cgroup, CNI ok)--> READY ------------> NOTREADY ---------> (gone)
                     |                                          ^   (containers      ^   (containers
                     | any step fails: everything taken so far  |    killed, CNI DEL, |    removed, files,
                     | is released and the record deleted       |    namespaces kept) |    namespaces, cgroup
                     v                                          |                     |    deleted)
                  (gone)        runtime restart: CREATING -> NOTREADY (it crashed half-way; Stop cleans up),
                                READY whose netns bind mount vanished (reboot) -> NOTREADY

The CRI config is kept verbatim (serialised protobuf, base64) so status calls can return labels,
annotations and metadata exactly as given; the fields the runtime acts on are copied out for clarity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATING, READY, NOTREADY = "creating", "ready", "notready"


@dataclass
class SandboxRecord:
    id: str
    name: str  # <name>_<namespace>_<uid>_<attempt>, unique among sandboxes
    config: str  # base64 PodSandboxConfig
    runtime_handler: str
    state: str
    created_at: int  # ns
    hostname: str
    host_network: bool
    host_ipc: bool
    netns_path: str = ""
    ipc_path: str = ""
    uts_path: str = ""
    shm_path: str = ""
    cgroup_parent: str = ""
    ip: str = ""
    additional_ips: list[str] = field(default_factory=list)
    privileged: bool = False
    pause_pid: int = 0  # init of the pod PID namespace (PID mode POD), 0 if none
    pause_start: int = 0  # its start time, to tell it from a process that reused the PID
    userns_path: str = ""  # the pinned pod user namespace (hostUsers: false), "" for the host's
    uid_maps: list[list[int]] = field(default_factory=list)  # [[container_id, host_id, size]]
    gid_maps: list[list[int]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxRecord:
        return cls(**data)
