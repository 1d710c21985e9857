"""Bring a local cluster up and take it down again.

`up` starts etcd, a local image registry (filled with the busybox image and mirrored as docker.io, so
pods pull `busybox` through the real registry path with no internet), the runtime, the apiserver, the
scheduler, the controllers and the kubelet as processes, in that order, waiting for each to answer
before starting the next, then waits for the node to report Ready, and leaves a supervisor running that
restarts any of them that dies (supervise.py). It is idempotent: running components are left alone.
`down` stops the supervisor, then the components in reverse order; before the runtime stops it removes
every pod sandbox through the CRI (so the CNI plugins release addresses and iptables rules), and
afterwards it sweeps what a crash could have left behind.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from skiff_common import errors
from skiff_common.grpcutil import TLSConfig
from skiff_common.pki import ClusterPKI, control_plane_profiles, kubelet_profiles

from ..clientconfig import ClientConfig
from . import components, kubedns, nodenet, processes, registry, supervise, tokens
from .cleanup import stop_and_sweep
from .layout import ClusterLayout
from .probes import apiserver_ready, node_ready, runtime_ready

REPO_ROOT = Path(__file__).resolve().parents[4]
STOP_ORDER = (
    "supervisor",
    "proxy",
    "dns",
    "metrics",
    "device-plugin",
    "kubelet",
    "controllers",
    "scheduler",
    "apiserver",
    "runtime",
    "registry",
    "etcd",
)
# The tags of busybox the local registry serves (as docker.io/library/busybox).
BUSYBOX_TAGS = ("latest", "1.36", "1.28")


class ClusterError(Exception):
    pass


def wait_for(what: str, check: Callable[[], bool], *, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    hint = f"; see {log}" if log else ""
    raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}{hint}")


def proxy_healthy(layout: ClusterLayout) -> bool:
    """kube-proxy's /healthz: 200 once the first ruleset is in the kernel."""
    try:
        with urllib.request.urlopen(f"http://{layout.metrics_address('proxy-healthz')}/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def etcd_healthy(layout: ClusterLayout, tls: TLSConfig) -> bool:
    context = ssl.create_default_context(cafile=tls.ca_file)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    try:
        with urllib.request.urlopen(f"https://{layout.etcd_endpoint}/health", timeout=1, context=context) as resp:
            return b'"health":"true"' in resp.read()
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def start_component(
    layout: ClusterLayout,
    component: components.Component,
    ready: Callable[[], bool],
    *,
    timeout: float,
    say: Callable[[str], None],
    owner: str = "",
) -> None:
    """Start `component` unless it runs, then wait until `ready()`; a process that exits meanwhile ends
    the wait at once with its log's path. `owner` names the node in messages (" of <member>")."""
    name = f"{component.name}{owner}"
    if processes.running_pid(component.name, layout.pid_dir) is None:
        say(f"starting {name}")
        processes.start(component.name, component.argv, log_dir=layout.log_dir, pid_dir=layout.pid_dir)
    log = layout.log_dir / f"{component.name}.log"

    def alive_and_ready() -> bool:
        if processes.running_pid(component.name, layout.pid_dir) is None:
            raise ClusterError(f"{name} exited during start-up; see {log}")
        return ready()

    wait_for(f"{name} to answer", alive_and_ready, timeout=timeout, log=log)


class LocalCluster:
    def __init__(self, layout: ClusterLayout, *, say: Callable[[str], None] = print) -> None:
        self.layout = layout
        self.say = say
        self.pki = ClusterPKI(layout.pki_dir)
        # A multi-node cluster's apiserver is also dialled on the node bridge: its certificate names it.
        addresses = [layout.node_ip] if layout.node_ip else []
        made = self.pki.ensure(
            [*control_plane_profiles(layout.node_name, addresses), *kubelet_profiles(layout.node_name)]
        )
        # Each component's own identity (skiff_common.pki.profiles); "kubelet" is this node's client
        # certificate (system:node:<name>) and "kubelet-serving" its serving certificate.
        self.tls = {name: tls for name, tls in made.items() if "/" not in name}
        self.tls["kubelet"] = made[f"nodes/{layout.node_name}/kubelet-client"]
        self.tls["kubelet-serving"] = made[f"nodes/{layout.node_name}/kubelet"]
        prefix = components.ETCD_PKI_SUBDIR + "/"
        self.etcd_tls = {name.removeprefix(prefix): tls for name, tls in made.items() if name.startswith(prefix)}

    def client_config(self) -> ClientConfig:
        admin = self.tls["admin"]
        return ClientConfig(
            server=self.layout.apiserver_address,
            ca_file=admin.ca_file,
            cert_file=admin.cert_file,
            key_file=admin.key_file,
        )

    def _start(self, component: components.Component, ready: Callable[[], bool], timeout: float = 30) -> None:
        start_component(self.layout, component, ready, timeout=timeout, say=self.say)

    def up(self, *, images: bool = True, restart: bool = False) -> None:
        """With `restart`, every running component but etcd is stopped first and started again from this
        layout (a one-node cluster gaining its node network: new addresses, flags and certificate). The
        runtime stops without removing sandboxes, so pods keep running and the new kubelet adopts them."""
        layout = self.layout
        if restart:
            for name in STOP_ORDER:
                if name != "etcd" and processes.stop(name, layout.pid_dir):
                    self.say(f"stopped {name} (to restart it on the node network)")
        for folder in (layout.state_dir, layout.log_dir, layout.runtime_root, layout.runtime_state):
            folder.mkdir(parents=True, exist_ok=True)
        layout.save()
        if layout.node_cidr:  # multi-node: the node bridge first, the apiserver and registry listen on it
            nodenet.ensure_bridge(layout.node_bridge, layout.node_cidr)
        # The runtime needs nothing of the control plane: it starts now, beside etcd and the registry,
        # and is waited for below where the order needs it (its start-up is seconds of imports).
        runtime = components.runtime(layout)
        if processes.running_pid(runtime.name, layout.pid_dir) is None:
            self.say(f"starting {runtime.name}")
            processes.start(runtime.name, runtime.argv, log_dir=layout.log_dir, pid_dir=layout.pid_dir)
        self._start(
            components.etcd(layout, self.etcd_tls["server"], self.etcd_tls["peer"]),
            lambda: etcd_healthy(layout, self.etcd_tls["healthcheck-client"]),
        )
        if images:
            self.start_registry()
        self._start(runtime, lambda: asyncio.run(runtime_ready(layout.runtime_socket)))
        admin = self.client_config()
        self._start(
            components.apiserver(
                layout, self.tls["apiserver"], self.etcd_tls["apiserver-client"], self.tls["apiserver-kubelet-client"]
            ),
            lambda: asyncio.run(apiserver_ready(admin)),
        )
        self._start(components.scheduler(layout, self.tls["scheduler"]), lambda: True)
        self._start(components.controllers(layout, self.tls["controllers"]), lambda: True)
        # kube-public/cluster-info (the CA and the join address) for `skiff join`'s discovery
        asyncio.run(
            tokens.publish_cluster_info_at(
                admin,
                f"https://{layout.join_address}",
                self.pki.path("ca").read_bytes(),
                layout.advertised_apiserver_address,
            )
        )
        self._start(
            components.dns(layout, self.tls["dns"]), lambda: http_ok(f"http://{layout.dns_health_address}/readyz")
        )
        try:
            for made in asyncio.run(kubedns.ensure_kube_dns(admin, components.advertise_address(layout))):
                self.say(f"created {made} in kube-system")
        except errors.SkiffError as exc:  # e.g. 10.96.0.10 already taken: DNS still serves on the host
            self.say(f"warning: the kube-dns Service was not registered: {exc}")
        self._start(components.kubelet(layout, self.tls["kubelet"], self.tls["kubelet-serving"]), lambda: True)
        if layout.fake_gpus > 0:
            self._start(components.device_plugin(layout), lambda: True)
        self._start(components.proxy(layout, self.tls["proxy"]), lambda: proxy_healthy(layout))
        self._start(
            components.metrics(layout, self.tls["metrics"], self.tls["metrics-serving"]),
            lambda: http_ok(f"http://{layout.metrics_address('metrics')}/metrics"),
        )
        wait_for(
            f"node {layout.node_name} to be Ready",
            lambda: asyncio.run(node_ready(admin, layout.node_name)),
            timeout=60,
            log=layout.log_dir / "kubelet.log",
        )
        self.start_supervisor()

    def start_supervisor(self) -> None:
        """From now on a component that dies is started again (supervise.py), and supervisor.log says so."""
        supervise.ensure(self.layout.pid_dir, self.layout.log_dir)

    def start_registry(self) -> None:
        """A real registry on 127.0.0.1 holding the busybox image, mirrored as docker.io for the runtime."""
        layout = self.layout
        address = registry.start_local_registry(
            layout.state_dir, layout.registry_port, layout.log_dir, layout.pid_dir, host=layout.advertise_host
        )
        image_dir = layout.state_dir / "images" / "busybox"
        if not (image_dir / "index.json").exists():
            self.say("building the busybox image from busybox-static")
            subprocess.run(
                [sys.executable, str(REPO_ROOT / "scripts" / "images" / "build-busybox-image.py"), str(image_dir)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        for tag in BUSYBOX_TAGS:
            registry.push_image(image_dir, address, f"library/busybox:{tag}")
        registry.write_mirror_config(layout.registry_config_dir, address)

    def down(self) -> None:
        layout = self.layout
        stop_and_sweep(layout, STOP_ORDER, self.say)
