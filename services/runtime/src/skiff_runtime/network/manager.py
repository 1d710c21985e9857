"""The pod network: which CNI configuration is used, ADD at sandbox start, DEL at stop, readiness.

Unless an operator points `cni_conf_dir` at their own configuration, the runtime generates and owns one:
a `bridge` network (bridge name configurable, default skiff0, isGateway, ipMasq unless turned off for a
multi-node cluster, whose pods talk to other nodes' pods without NAT) with `host-local` IPAM on
the node's pod CIDR (storing its allocations under the runtime's state root, not the host-wide
/var/lib/cni), chained with `portmap` for hostPort mappings. `loopback` runs as its own one-plugin network
for `lo`, as containerd does, so that its result cannot replace eth0's. UpdateRuntimeConfig with a new pod
CIDR regenerates the owned configuration.

The result of each ADD, with the exact configuration used, is cached per sandbox; DEL reads it back, so it
releases exactly what ADD took. A failed ADD leaves nothing behind (cni.add undoes the partial chain).
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skiff_runtime.network import cni

LOOPBACK = cni.NetworkConfigList.parse(
    {"cniVersion": "1.0.0", "name": "cni-loopback", "plugins": [{"type": "loopback"}]}, "builtin"
)
OWNED_FILE = "10-skiff.conflist"


@dataclass
class NetworkSettings:
    conf_dir: Path | None  # None: use the generated configuration in <state>/cni/net.d
    bin_dirs: list[Path]
    bridge: str = "skiff0"
    pod_cidr: str = "10.88.0.0/16"
    network_name: str = "skiff"
    ip_masq: bool = True


@dataclass(frozen=True)
class PodNetwork:
    ips: list[str]
    result: dict[str, Any]


def default_conflist(name: str, bridge: str, pod_cidr: str, data_dir: Path, *, ip_masq: bool = True) -> dict[str, Any]:
    network = ipaddress.ip_network(pod_cidr, strict=False)
    default_route = "0.0.0.0/0" if network.version == 4 else "::/0"
    return {
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": ip_masq,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": str(network)}]],
                    "routes": [{"dst": default_route}],
                    "dataDir": str(data_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


class NetworkManager:
    def __init__(self, settings: NetworkSettings, state_root: Path) -> None:
        self.settings = settings
        self.state = state_root / "cni"
        self.cache = self.state / "results"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.owned_dir = self.state / "net.d"
        if settings.conf_dir is None:
            self.write_owned_config(settings.pod_cidr)

    @property
    def conf_dir(self) -> Path:
        return self.settings.conf_dir or self.owned_dir

    @property
    def ipam_dir(self) -> Path:
        return self.state / "networks"

    def write_owned_config(self, pod_cidr: str) -> None:
        ipaddress.ip_network(pod_cidr, strict=False)  # ValueError with the reason if malformed
        self.settings.pod_cidr = pod_cidr
        self.owned_dir.mkdir(parents=True, exist_ok=True)
        data = default_conflist(
            self.settings.network_name, self.settings.bridge, pod_cidr, self.ipam_dir, ip_masq=self.settings.ip_masq
        )
        tmp = self.owned_dir / f".{OWNED_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.owned_dir / OWNED_FILE)

    def update_pod_cidr(self, pod_cidr: str) -> bool:
        """Regenerate the owned config for a new CIDR; False if an operator config is in use or unchanged."""
        if self.settings.conf_dir is not None or not pod_cidr or pod_cidr == self.settings.pod_cidr:
            return False
        self.write_owned_config(pod_cidr)
        return True

    def load(self) -> cni.NetworkConfigList:
        path = cni.find_config(self.conf_dir)
        if path is None:
            raise FileNotFoundError(f"no CNI network configuration in {self.conf_dir}")
        return cni.NetworkConfigList.load(path)

    def readiness(self) -> tuple[bool, str, str]:
        """(ready, reason, message) for the NetworkReady condition."""
        try:
            conflist = self.load()
        except (OSError, ValueError) as err:
            return False, "NetworkPluginNotReady", f"CNI configuration not usable: {err}"
        needed = {p["type"] for p in conflist.plugins} | {"loopback"}
        missing = sorted(t for t in needed if cni.find_plugin(t, self.settings.bin_dirs) is None)
        if missing:
            dirs = ", ".join(str(d) for d in self.settings.bin_dirs)
            return False, "NetworkPluginNotReady", f"CNI plugins {missing} not found in {dirs}"
        return True, "", ""

    def _cache_path(self, sandbox_id: str) -> Path:
        return self.cache / f"{sandbox_id}.json"

    async def setup(
        self,
        sandbox_id: str,
        netns: str,
        *,
        pod_name: str,
        pod_namespace: str,
        pod_uid: str,
        port_mappings: list[dict[str, Any]],
    ) -> PodNetwork:
        conflist = self.load()
        args = {
            "IgnoreUnknown": "1",
            "K8S_POD_NAMESPACE": pod_namespace,
            "K8S_POD_NAME": pod_name,
            "K8S_POD_INFRA_CONTAINER_ID": sandbox_id,
            "K8S_POD_UID": pod_uid,
        }
        runtime_config = {"portMappings": port_mappings} if port_mappings else {}
        lo = cni.Invocation(sandbox_id, netns, "lo", args, {})
        eth = cni.Invocation(sandbox_id, netns, "eth0", args, runtime_config)
        await cni.add(LOOPBACK, lo, self.settings.bin_dirs)
        # written before ADD: a crash during ADD still leaves what DEL needs to release a half allocation
        self._write_cache(sandbox_id, conflist, args, runtime_config, None)
        try:
            result = await cni.add(conflist, eth, self.settings.bin_dirs)
        except BaseException:
            self._cache_path(sandbox_id).unlink(missing_ok=True)
            raise
        self._write_cache(sandbox_id, conflist, args, runtime_config, result)
        ips = [str(ipaddress.ip_interface(ip["address"]).ip) for ip in result.get("ips") or []]
        return PodNetwork(ips=ips, result=result)

    def _write_cache(
        self,
        sandbox_id: str,
        conflist: cni.NetworkConfigList,
        args: dict[str, str],
        runtime_config: dict[str, Any],
        result: dict[str, Any] | None,
    ) -> None:
        tmp = self._cache_path(sandbox_id).with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"config": conflist.raw, "args": args, "runtimeConfig": runtime_config, "result": result})
        )
        os.replace(tmp, self._cache_path(sandbox_id))

    async def teardown(self, sandbox_id: str, netns: str) -> None:
        """DEL with what ADD produced; a no-op when nothing was set up. Idempotent."""
        path = self._cache_path(sandbox_id)
        if not path.exists():
            return
        cached = json.loads(path.read_text())
        conflist = cni.NetworkConfigList.parse(cached["config"], str(path))
        inv = cni.Invocation(sandbox_id, netns, "eth0", cached["args"], cached["runtimeConfig"])
        await cni.delete(conflist, inv, self.settings.bin_dirs, cached["result"])
        path.unlink(missing_ok=True)
