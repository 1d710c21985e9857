"""Version, Status (RuntimeReady / NetworkReady, truthfully) and UpdateRuntimeConfig (pod CIDR).

The handlers' features tell the kubelet what they can do, as containerd's do: user namespaces (CRI
``userns_options`` with idmapped mounts) when the executor makes idmapped mounts (Skiff's, crun, runc
from 1.2)."""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import FieldError, Invalid

from skiff_runtime.runtime import Runtime

RUNTIME_NAME = "skiff"
API_VERSION = "v1"


def _version() -> str:
    try:
        return metadata.version("skiff-runtime")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class StatusHandlers:
    runtime: Runtime

    async def Version(self, request: cri.VersionRequest, context: Any) -> cri.VersionResponse:
        return cri.VersionResponse(
            version="0.1.0",
            runtime_name=RUNTIME_NAME,
            runtime_version=_version(),
            runtime_api_version=API_VERSION,
        )

    async def Status(self, request: cri.StatusRequest, context: Any) -> cri.StatusResponse:
        ready, reason, message = self.runtime.network.readiness()
        conditions = [
            cri.RuntimeCondition(type="RuntimeReady", status=True),
            cri.RuntimeCondition(type="NetworkReady", status=ready, reason=reason, message=message),
        ]
        features = cri.RuntimeHandlerFeatures(user_namespaces=self.runtime.executor.user_namespaces)
        response = cri.StatusResponse(
            status=cri.RuntimeStatus(conditions=conditions),
            runtime_handlers=[
                cri.RuntimeHandler(name="", features=features),
                cri.RuntimeHandler(name="skiff", features=features),
            ],
            features=cri.RuntimeFeatures(supplemental_groups_policy=True),
        )
        if request.verbose:
            response.info["config"] = json.dumps(
                {
                    "executor": self.runtime.executor.name,
                    "stateRoot": self.runtime.config.state_root,
                    "cniConfDir": str(self.runtime.network.conf_dir),
                    "podCIDR": self.runtime.network.settings.pod_cidr,
                }
            )
        return response

    async def UpdateRuntimeConfig(
        self, request: cri.UpdateRuntimeConfigRequest, context: Any
    ) -> cri.UpdateRuntimeConfigResponse:
        cidr = request.runtime_config.network_config.pod_cidr
        try:
            self.runtime.network.update_pod_cidr(cidr)
        except ValueError as err:
            raise Invalid(
                "runtime config is invalid",
                [FieldError("runtime_config.network_config.pod_cidr", "Invalid value", str(err))],
            ) from None
        return cri.UpdateRuntimeConfigResponse()
