"""skiff-runtime as a black box: the installed ``skiff-runtime`` entry point, run as its own process.

The interop tests and the benchmark talk to it only over its CRI socket, exactly as crictl or a
foreign kubelet would: nothing is imported from skiff_runtime, skiff_kubelet or skiff_client.
Unique per instance: state, run and executor roots below a temp dir, the socket, a bridge
``skiop<hex>`` and a random /24 from the project-only 10.244.0.0/16. Images are loaded with
``skiff-runtime import`` (there is no CRI call for that; crictl has none either).

``stop()`` removes every pod over CRI first (shims outlive the runtime by design), then SIGTERMs the
server and deletes the bridge; ``leftovers()`` lists shims, mounts, bridge and iptables rules that
survived.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.cri.runtime.v1 import api_pb2_grpc

BIN = Path(sys.executable).parent / "skiff-runtime"


@dataclass
class SkiffRuntime:
    tmp: Path
    executor: str = "skiff"
    bridge: str = field(default_factory=lambda: f"skiop{secrets.token_hex(3)}")
    pod_cidr: str = field(default_factory=lambda: f"10.244.{secrets.randbelow(200) + 20}.0/24")
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.tmp / "cri.sock"

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    @property
    def state_root(self) -> Path:
        return self.tmp / "state"

    def import_image(self, layout: Path, ref: str) -> str:
        """``skiff-runtime import``; returns the image id it prints."""
        out = subprocess.run(
            [str(BIN), "import", "--state-root", str(self.state_root), "--ref", ref, str(layout)],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.split()[0]

    def start(self, timeout: float = 30.0) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        cmd = [str(BIN), "serve", "--listen", self.endpoint, "--state-root", str(self.state_root)]
        cmd += ["--run-root", str(self.tmp / "run"), "--executor-state-root", str(self.tmp / "oci")]
        cmd += ["--executor", self.executor, "--bridge", self.bridge, "--pod-cidr", self.pod_cidr]
        cmd += ["--cni-bin-dirs", "/usr/lib/cni"]
        log = open(self.tmp / "runtime.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not self._serving():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"skiff-runtime did not start:\n{self.log_tail()}")
            time.sleep(0.05)

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
            return (self.tmp / "runtime.log").read_text(errors="replace")[-n:]
        return ""

    def remove_all_pods(self) -> None:
        with grpc.insecure_channel(self.endpoint) as ch:
            stub = api_pb2_grpc.RuntimeServiceStub(ch)
            for sb in stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items:
                stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)
                stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)
            for c in stub.ListContainers(cri.ListContainersRequest(), timeout=30).containers:
                stub.RemoveContainer(cri.RemoveContainerRequest(container_id=c.id), timeout=60)

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
            # The shim factory outlives a runtime on purpose (containers survive restarts); a test stops it.
            self._stop_factory()
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)

    def _stop_factory(self) -> None:
        """Kill the runtime's shim factory (its command line names the module and our state folder)."""
        factories = []
        for pid in self._shim_pids():
            with contextlib.suppress(OSError):  # it may just have exited
                if b"oci.shim.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    factories.append(pid)
        for pid in factories:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{pid}").exists() for pid in factories) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _shim_pids(self) -> list[int]:
        needle = str(self.tmp / "oci").encode()
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"skiff_runtime.oci" in cmdline and needle in cmdline:
                    pids.append(int(entry))
        return pids

    def leftovers(self) -> list[str]:
        found = [f"shim pid {p}" for p in self._shim_pids()]
        prefix = str(self.tmp.resolve()) + "/"
        with open("/proc/self/mounts") as f:
            found += [f"mount {line.split()[1]}" for line in f if line.split()[1].startswith(prefix)]
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode == 0:
            found.append(f"bridge {self.bridge}")
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
        net = self.pod_cidr.rsplit(".", 1)[0] + "."
        found += [f"iptables {line}" for line in rules.splitlines() if net in line]
        return found
