"""Container records.

    CreateContainer             StartContainer           process exits / StopContainer
    ---------------> CREATED ----------------> RUNNING ------------------------------> EXITED
                        |                                                               |
                        +----------- StopContainer (never started) -------------------->+
                        |                                                               |
                        +------------------------ RemoveContainer ----------------------+--> (gone)

The executor (skiff_runtime.oci) is the source of truth for a live process; the record keeps what the
executor cannot know (CRI config, image, log path, mounts) and the final facts (exit code, reason,
finish time) once the process is gone, so they survive the executor's own deletion and a restart.
`removing` marks a RemoveContainer in progress: a crash half-way leaves a record that is cleaned up
again by the next RemoveContainer, never a leaked mount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CREATED, RUNNING, EXITED, UNKNOWN = "created", "running", "exited", "unknown"


@dataclass
class ContainerRecord:
    id: str
    sandbox_id: str
    name: str  # <name>_<sandbox name>_<attempt>, unique among containers
    config: str  # base64 ContainerConfig
    image_id: str  # sha256 of the image config (== Image.id == PullImageResponse.image_ref)
    image_ref: str  # repo digest if known, else the image id
    user_image: str  # ImageSpec.image as the client gave it
    state: str
    created_at: int  # ns
    bundle: str
    rootfs: str
    cgroups_path: str
    log_path: str = ""
    stop_signal: int = 15
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    pid: int = 0
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] | None = None
    removing: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerRecord:
        return cls(**data)
