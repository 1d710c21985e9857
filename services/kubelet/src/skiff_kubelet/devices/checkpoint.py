"""Device allocations that survive a kubelet restart (Kubernetes' `kubelet_internal_checkpoint`).

One JSON file in the device-plugins directory, written atomically (temporary file + rename) after every
change: each allocation (pod UID, container, resource, device IDs, the plugin's AllocateResponse) and
the devices each resource had. A restarted kubelet reads it back before serving Registration, so a device
held by a running container is neither lost nor handed to a second one, and each resource's capacity
stays zero until its plugin registers again (Kubernetes' behaviour).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from skiff.deviceplugin.v1beta1 import api_pb2 as dp

NAME = "kubelet_internal_checkpoint"


@dataclass
class Allocation:
    pod_uid: str
    container: str
    resource: str
    device_ids: list[str]
    response: dp.ContainerAllocateResponse = field(default_factory=dp.ContainerAllocateResponse)


@dataclass
class Checkpoint:
    allocations: list[Allocation] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)


def _entry(a: Allocation) -> dict[str, object]:
    return {
        "PodUID": a.pod_uid,
        "ContainerName": a.container,
        "ResourceName": a.resource,
        "DeviceIDs": a.device_ids,
        "AllocResp": base64.b64encode(a.response.SerializeToString()).decode(),
    }


def save(folder: Path, cp: Checkpoint) -> None:
    data = {"Data": {"PodDeviceEntries": [_entry(a) for a in cp.allocations], "RegisteredDevices": cp.registered}}
    tmp = folder / f".{NAME}.tmp"
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, folder / NAME)


def load(folder: Path) -> Checkpoint:
    try:
        data = json.loads((folder / NAME).read_text())["Data"]
    except (OSError, ValueError, KeyError, TypeError):
        return Checkpoint()
    out = Checkpoint(registered={k: list(v) for k, v in (data.get("RegisteredDevices") or {}).items()})
    for e in data.get("PodDeviceEntries") or []:
        response = dp.ContainerAllocateResponse()
        response.ParseFromString(base64.b64decode(e.get("AllocResp", "")))
        out.allocations.append(
            Allocation(e["PodUID"], e["ContainerName"], e["ResourceName"], list(e["DeviceIDs"]), response)
        )
    return out
