"""A throwaway network for kernel tests: a "node" namespace with a bridge, and pod namespaces on it.

    node ns:  br0 10.244.0.1/24 (the pods' gateway), ip_forward, bridge netfilter -- the proxy's rules
              are applied here, as on a node whose pods sit on the cluster bridge
    pod ns:   eth0 10.244.0.N/24, default route via 10.244.0.1; a tiny TCP server or a client

Addresses exist only inside these namespaces; nothing is routed to or from the host. `close()` kills
the servers and deletes every namespace (which removes veths, the bridge and the ruleset with them).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid

GATEWAY = "10.244.0.1"

SERVER = textwrap.dedent(
    """
    import socket, sys, threading
    name, port = sys.argv[1], int(sys.argv[2])
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port)); srv.listen(64)
    print("ready", flush=True)
    def serve(conn):
        with conn:
            f = conn.makefile("rwb")
            f.write(name.encode() + b"\\n"); f.flush()
            for line in f:
                f.write(line); f.flush()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    """
)

CLIENT = textwrap.dedent(
    """
    import errno, json, socket, sys
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    out = []
    for _ in range(n):
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                out.append(s.makefile("rb").readline().decode().strip())
        except OSError as exc:
            out.append(type(exc).__name__ if exc.errno is None else errno.errorcode.get(exc.errno, str(exc.errno)))
    print(json.dumps(out))
    """
)

HOLD = textwrap.dedent(
    """
    import socket, sys
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    f = s.makefile("rwb")
    print(f.readline().decode().strip(), flush=True)
    for line in sys.stdin:
        f.write(line.encode()); f.flush()
        print(f.readline().decode().strip(), flush=True)
    """
)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


class NetLab:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.node = f"dp-{self.tag}-node"
        self.namespaces = [self.node]
        self.procs: list[subprocess.Popen[str]] = []
        sh("ip", "netns", "add", self.node)
        try:
            self._setup_node()
        except BaseException:
            self.close()
            raise

    def _setup_node(self) -> None:
        self.exec_node("ip", "link", "set", "lo", "up")
        self.exec_node("ip", "link", "add", "br0", "type", "bridge")
        self.exec_node("ip", "addr", "add", f"{GATEWAY}/24", "dev", "br0")
        self.exec_node("ip", "link", "set", "br0", "up")
        self.exec_node("sysctl", "-qw", "net.ipv4.ip_forward=1")
        # A default route, like any host's, into a veth whose peer stays in this namespace with nothing
        # behind it: unmatched service traffic is routed and must be stopped by the proxy's rules.
        self.exec_node("ip", "link", "add", "uplink", "type", "veth", "peer", "name", "uplink-peer")
        self.exec_node("ip", "addr", "add", "192.0.2.1/24", "dev", "uplink")
        self.exec_node("ip", "link", "set", "uplink", "up")
        self.exec_node("ip", "link", "set", "uplink-peer", "up")
        self.exec_node("ip", "route", "add", "default", "via", "192.0.2.2")
        # As on a node with the CNI bridge: bridged pod-to-pod replies must pass conntrack.
        subprocess.run([*self.prefix, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"], capture_output=True)

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.node]

    def exec_node(self, *argv: str) -> None:
        sh(*self.prefix, *argv)

    def add_pod(self, name: str, ip: str) -> str:
        ns = f"dp-{self.tag}-{name}"
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        host_end = f"v{self.tag}{len(self.namespaces)}"
        self.exec_node("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.exec_node("ip", "link", "set", host_end, "master", "br0")
        self.exec_node("ip", "link", "set", host_end, "type", "bridge_slave", "hairpin", "on")
        self.exec_node("ip", "link", "set", host_end, "up")
        for argv in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "addr", "add", f"{ip}/24", "dev", "eth0"],
            ["ip", "link", "set", "eth0", "up"],
            ["ip", "route", "add", "default", "via", GATEWAY],
        ):
            sh("ip", "netns", "exec", ns, *argv)
        return ns

    def serve(self, ns: str, name: str, port: int) -> None:
        p = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, name, str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"

    def connect(self, ns: str, host: str, port: int, n: int = 1) -> list[str]:
        """First line each of `n` fresh connections answered, or the error's errno name (ECONNREFUSED)."""
        out = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, host, str(port), str(n)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return list(json.loads(out.stdout))

    def hold(self, ns: str, host: str, port: int) -> subprocess.Popen[str]:
        """A client that keeps one connection open; write a line to stdin, read the echo from stdout."""
        p = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", HOLD, host, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
