"""`skiff port-forward POD|svc/NAME|deploy/NAME [LOCAL:]REMOTE...`: local ports to a pod's, through the
apiserver's `pods/portforward` (the WebSocket channel protocol: per port, channel 0 carries data both
ways and channel 1 errors; the first message on each is the port number). One WebSocket per accepted
local connection, so connections never share a stream."""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
from typing import Any

import websocket

from ..kube import streams
from ..kube.errors import CliError
from ..kube.session import Session
from .attach import pod_and_container


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("port-forward", help="forward local ports to a pod")
    p.add_argument("target", help="POD or TYPE/NAME")
    p.add_argument("ports", nargs="+", help="[LOCAL:]REMOTE")
    p.add_argument("--address", default="localhost", help="addresses to listen on (localhost or 127.0.0.1)")
    p.set_defaults(run=run)


def _service_port(s: Session, name: str, port: int) -> int:
    svc = s.get(s.mapper.lookup("services"), name)
    for p in (svc.get("spec") or {}).get("ports") or []:
        if p.get("port") == port:
            target = p.get("targetPort", port)
            return int(target) if str(target).isdigit() else port
    raise CliError(f"error: Service {name} does not have a service port {port}")


def relay(s: Session, pod: dict[str, Any], port: int, conn: socket.socket) -> None:
    meta = pod["metadata"]
    try:
        ws = streams.connect(s.rest, f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/portforward",
                             [("ports", port)], ["v4.channel.k8s.io"])  # fmt: skip
    except CliError as err:
        print(err.message, file=sys.stderr)
        conn.close()
        return
    seen: set[int] = set()

    def upstream() -> None:
        while True:
            try:
                data = conn.recv(32 * 1024)
            except OSError:
                return
            if not data:
                return
            with contextlib.suppress(websocket.WebSocketException, OSError):
                ws.send_binary(b"\x00" + data)

    threading.Thread(target=upstream, daemon=True).start()
    try:
        while True:
            message = ws.recv()
            if not message:
                continue
            data = message if isinstance(message, bytes) else message.encode()
            channel, payload = data[0], data[1:]
            if channel not in seen:  # the port number, once per channel
                seen.add(channel)
                continue
            if channel == 0:
                conn.sendall(payload)
            elif payload:
                print(
                    f"error: an error occurred forwarding {port}: {payload.decode(errors='replace')}", file=sys.stderr
                )
    except (websocket.WebSocketException, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            ws.close()
        conn.close()


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    pod, _ = pod_and_container(s, args.target, "", quiet=True)
    kind = args.target.partition("/")[0] if "/" in args.target else ""
    service = kind and s.mapper.lookup(kind).kind == "Service"
    listeners = []
    host = "127.0.0.1" if args.address == "localhost" else args.address
    if host not in ("127.0.0.1",):
        raise CliError(f"error: --address {args.address}: only localhost/127.0.0.1 is supported")
    for spec in args.ports:
        local, _, remote = spec.rpartition(":")
        remote_port = int(remote)
        if service:
            remote_port = _service_port(s, args.target.partition("/")[2], remote_port)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(local) if local else int(remote)))
        sock.listen(16)
        bound = sock.getsockname()[1]
        print(f"Forwarding from {host}:{bound} -> {remote_port}")
        listeners.append((sock, bound, remote_port))
    sys.stdout.flush()

    def serve(sock: socket.socket, bound: int, remote_port: int) -> None:
        while True:
            conn, _ = sock.accept()
            print(f"Handling connection for {bound}")
            sys.stdout.flush()
            threading.Thread(target=relay, args=(s, pod, remote_port, conn), daemon=True).start()

    threads = [threading.Thread(target=serve, args=item, daemon=True) for item in listeners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0
