"""A private containerd (Debian's 1.6) for the interop test and the benchmark.

Everything it owns is unique to one instance: root, state, opt dir, runc root and sockets under a temp
directory; a CNI network with its own bridge (``skctd<hex>``) on a random project-only /24
(``10.245.<n>.0/24``) whose host-local allocations live in the temp dir too; the CRI stream server on
127.0.0.1 with an ephemeral port (the default, 10010, would collide between instances).

The sandbox ("pause") image is ``images.derive_image`` of busybox with a sleep-forever Cmd, imported
with ``ctr -n k8s.io images import`` under the configured ``sandbox_image`` name, because the real pause
image cannot be pulled offline. busybox itself is imported as docker.io/library/busybox:latest.

``stop()`` is the cleanup contract: remove every pod over CRI (so containerd runs CNI DEL: veths, IPs
and CNI's iptables chains go), stop containerd, unmount whatever is still mounted below the temp dir
(shm, rootfs overlays of a crashed run), delete the bridge; ``leftovers()`` lists what survived.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.cri.runtime.v1 import api_pb2_grpc

CONTAINERD = shutil.which("containerd") or "/usr/bin/containerd"
CTR = shutil.which("ctr") or "/usr/bin/ctr"
RUNC = shutil.which("runc") or shutil.which("runc", path="/usr/sbin:/usr/bin") or "/usr/sbin/runc"
SANDBOX_IMAGE = "registry.skiff.test/interop/pause:1"
NAMESPACE = "k8s.io"


def installed() -> bool:
    return all(os.access(p, os.X_OK) for p in (CONTAINERD, CTR, RUNC, "/usr/bin/containerd-shim-runc-v2"))


def conflist(name: str, bridge: str, subnet: str, data_dir: Path) -> dict[str, object]:
    """Same plugins and options as skiff-runtime's generated network, so the benchmark compares runtimes,
    not networks."""
    return {
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(data_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def config_toml(tmp: Path, cni_conf_dir: Path) -> str:
    cri_plugin = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{tmp}/root"
state = "{tmp}/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{tmp}/containerd.sock"
[ttrpc]
  address = "{tmp}/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{tmp}/opt"

[{cri_plugin}]
  sandbox_image = "{SANDBOX_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # The sandbox gets oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which hosts like this one
  # (a container/VM without it) lack: runc then dies with "failed to update /proc/self/oom_score_adj".
  # Restricting clamps every value to containerd's own, as for rootless containerd.
  restrict_oom_score_adj = true
  enable_selinux = false
  [{cri_plugin}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri_plugin}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri_plugin}.containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        Root = "{tmp}/runc"
        SystemdCgroup = false
  [{cri_plugin}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf_dir}"
    max_conf_num = 1
"""


@dataclass
class Containerd:
    tmp: Path
    bridge: str = field(default_factory=lambda: f"skctd{secrets.token_hex(3)}")
    subnet: str = field(default_factory=lambda: f"10.245.{secrets.randbelow(250) + 2}.0/24")
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.tmp / "containerd.sock"

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 30.0) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        cni = self.tmp / "cni-conf"
        cni.mkdir(exist_ok=True)
        net = conflist(f"interop-{self.bridge}", self.bridge, self.subnet, self.tmp / "cni-ipam")
        (cni / "10-interop.conflist").write_text(json.dumps(net, indent=2))
        config = self.tmp / "config.toml"
        config.write_text(config_toml(self.tmp, cni))
        log = open(self.tmp / "containerd.log", "ab")
        self.proc = subprocess.Popen(
            [CONTAINERD, "--config", str(config)], stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self._serving():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def _serving(self) -> bool:
        if not self.socket.exists():
            return False
        with grpc.insecure_channel(self.endpoint) as ch:
            try:
                api_pb2_grpc.RuntimeServiceStub(ch).Version(cri.VersionRequest(), timeout=2)
                return True
            except grpc.RpcError:
                return False

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return (self.tmp / "containerd.log").read_text(errors="replace")[-n:]
        return ""

    def ctr(self, *args: str) -> str:
        out = subprocess.run(
            [CTR, "--address", str(self.socket), "--namespace", NAMESPACE, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def import_image(self, tarball: Path) -> None:
        """Import an OCI layout tarball; its index's ref.name annotation names the image."""
        self.ctr("images", "import", "--snapshotter", "overlayfs", str(tarball))

    def remove_all_pods(self) -> None:
        if not self.socket.exists():
            return
        with grpc.insecure_channel(self.endpoint) as ch:
            stub = api_pb2_grpc.RuntimeServiceStub(ch)
            for sb in stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items:
                stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)
                stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)

    def stop(self) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.remove_all_pods()
        finally:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            self._kill_shims()
            self._unmount_below_tmp()
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)

    def _kill_shims(self) -> None:
        """Shims (and their containers) outlive containerd by design; after remove_all_pods none should
        exist, but a failed test must not leave any: kill shims whose -address is our socket."""
        for pid in self._shim_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _shim_pids(self) -> list[int]:
        needle = str(self.socket).encode()
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"containerd-shim" in cmdline and needle in cmdline:
                    pids.append(int(entry))
        return pids

    def _mounts_below_tmp(self) -> list[str]:
        prefix = str(self.tmp.resolve()) + "/"
        with open("/proc/self/mounts") as f:
            points = [line.split()[1].replace("\\040", " ") for line in f]
        return [p for p in points if p.startswith(prefix)]

    def _unmount_below_tmp(self) -> None:
        for point in sorted(self._mounts_below_tmp(), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)

    def leftovers(self) -> list[str]:
        """What a clean stop must not leave: processes, mounts, bridge, iptables rules for our subnet."""
        found = [f"shim pid {p}" for p in self._shim_pids()]
        found += [f"mount {m}" for m in self._mounts_below_tmp()]
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode == 0:
            found.append(f"bridge {self.bridge}")
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
        prefix = self.subnet.rsplit(".", 1)[0] + "."
        found += [f"iptables {line}" for line in rules.splitlines() if prefix in line]
        return found
