"""The node side of `skiff join` and `skiff reset`, as kubeadm's join and reset phases.

join: after discovery has trusted the cluster's CA (discovery.py), write that CA and a bootstrap
kubeconfig (the REST address, the CA, the token) into the node's state folder, start the node's runtime
and, beside it, its kubelet with --bootstrap-kubeconfig: the kubelet requests its own client and serving
certificates by CSR (TLS bootstrap, skiff_kubelet.certbootstrap), registers its Node, and the join ends
when that Node is Ready. No key or certificate is copied from the control plane; only the public CA.
The node's own supervisor (supervise.py) then restarts its runtime, kubelet and proxy when they die,
as systemd does for a kubeadm node's kubelet; a restarted kubelet keeps its certificates.

reset: stop the node's supervisor first (so nothing comes back), then the kubelet, remove every pod
sandbox through the runtime, stop the runtime, sweep what a crash could leave (bridge, cgroups, mounts,
container supervisors), and delete the node's certificates, bootstrap kubeconfig and state (`kubeadm
reset`). The Node object stays in the cluster, as with kubeadm (`skiff delete node NAME` removes it).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from skiff_common.bootstrap import kubeconfig as bootconf
from skiff_common.grpcutil import TLSConfig
from skiff_common.pki.files import write

from ..clientconfig import ClientConfig
from . import components, processes, supervise
from .cleanup import stop_and_sweep
from .discovery import Discovered
from .layout import ClusterLayout
from .probes import node_ready, runtime_ready

BOOTSTRAP_KUBECONFIG = "bootstrap-kubelet.conf"
NODE_STOP_ORDER = ("supervisor", "proxy", "kubelet", "runtime")


class JoinError(Exception):
    pass


def node_tls(layout: ClusterLayout) -> tuple[TLSConfig, TLSConfig]:
    """(client, serving) certificate files of a joined node's kubelet, made by TLS bootstrap."""
    pki = layout.pki_dir
    ca = str(pki / "ca.crt")
    return (
        TLSConfig(ca, str(pki / "kubelet-client.crt"), str(pki / "kubelet-client.key")),
        TLSConfig(ca, str(pki / "kubelet.crt"), str(pki / "kubelet.key")),
    )


def _wait(what: str, check: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise JoinError(f"timed out after {timeout:.0f}s waiting for {what}; see {log}")


class JoinedNode:
    def __init__(self, layout: ClusterLayout, *, say: Callable[[str], None] = print) -> None:
        self.layout = layout
        self.say = say

    def join(self, found: Discovered, token_value: str, *, timeout: float = 90.0) -> None:
        layout = self.layout
        if not found.grpc_server:
            raise JoinError("cluster-info names no gRPC API address (skiff-grpc): is the control plane a Skiff one?")
        first, *peers = found.grpc_server.split(",")  # every apiserver of an HA control plane
        host, _, port = first.rpartition(":")
        layout.apiserver_host, layout.apiserver_port, layout.apiserver_peers = host, int(port), peers
        for folder in (layout.state_dir, layout.log_dir, layout.runtime_root, layout.runtime_state, layout.pki_dir):
            folder.mkdir(parents=True, exist_ok=True)
        layout.save()
        write(layout.pki_dir / "ca.crt", found.ca_pem, 0o644)
        bootconf.save(
            layout.state_dir / BOOTSTRAP_KUBECONFIG,
            bootconf.BootstrapConfig(server=found.server, ca_pem=found.ca_pem, token=token_value),
        )
        runtime = components.runtime(layout)
        client, serving = node_tls(layout)
        kubelet = components.kubelet(layout, client, serving)
        kubelet.argv.append(f"--bootstrap-kubeconfig={layout.state_dir / BOOTSTRAP_KUBECONFIG}")
        # Both at once: the kubelet's TLS bootstrap needs only the API, and it reports the Node Ready as
        # soon as the runtime answers (its fastStatusUpdateOnce), so neither waits for the other to start.
        self._spawn(runtime)
        self.say(f"[kubelet-start] TLS bootstrap of node {layout.node_name} with token {found.token_id}")
        self._spawn(kubelet)
        self._start(runtime, lambda: asyncio.run(runtime_ready(layout.runtime_socket)), 30)
        self._start(kubelet, lambda: Path(client.cert_file).exists(), timeout)
        self.say(f"[kubelet-start] the kubelet has its certificate for system:node:{layout.node_name}")
        as_node = ClientConfig(
            server=found.grpc_server, ca_file=client.ca_file, cert_file=client.cert_file, key_file=client.key_file
        )
        _wait(
            f"node {layout.node_name} to be Ready",
            lambda: asyncio.run(node_ready(as_node, layout.node_name)),
            timeout,
            layout.log_dir / "kubelet.log",
        )
        supervise.ensure(layout.pid_dir, layout.log_dir)

    def _spawn(self, component: components.Component) -> None:
        layout = self.layout
        if processes.running_pid(component.name, layout.pid_dir) is None:
            self.say(f"starting {component.name}")
            processes.start(component.name, component.argv, log_dir=layout.log_dir, pid_dir=layout.pid_dir)

    def _start(self, component: components.Component, ready: Callable[[], bool], timeout: float) -> None:
        layout = self.layout
        self._spawn(component)
        log = layout.log_dir / f"{component.name}.log"

        def alive_and_ready() -> bool:
            if processes.running_pid(component.name, layout.pid_dir) is None:
                raise JoinError(f"{component.name} exited during start-up; see {log}")
            return ready()

        _wait(f"{component.name} to answer", alive_and_ready, timeout, log)

    def reset(self) -> None:
        layout = self.layout
        stop_and_sweep(layout, NODE_STOP_ORDER, self.say)
        for path in (layout.pki_dir, layout.kubelet_root, layout.runtime_root, layout.runtime_state):
            shutil.rmtree(path, ignore_errors=True)
        (layout.state_dir / BOOTSTRAP_KUBECONFIG).unlink(missing_ok=True)
