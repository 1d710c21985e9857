"""Kubernetes' channel protocol over WebSocket (`v5.channel.k8s.io`, falling back to v4), for exec,
attach and port-forward through the apiserver, as kubectl >= 1.30 speaks it.

Every binary message starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 a
terminal resize (`{"Width": w, "Height": h}`), 255 "close channel N" (v5: our stdin ended). The
command's exit arrives as the Status: Success, or Failure with reason NonZeroExitCode and the code as
an ExitCode cause, which becomes our exit status (`command terminated with exit code N`, as kubectl).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import struct
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import websocket

from .errors import ApiError, CliError, refused
from .rest import USER_AGENT, Rest

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
CHANNEL_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"]


def connect(rest: Rest, path: str, params: list[tuple[str, Any]], protocols: list[str]) -> websocket.WebSocket:
    t = rest.target
    url = rest.base.replace("https://", "wss://").replace("http://", "ws://") + path + "?" + urlencode(params)
    sslopt: dict[str, Any] = {}
    if url.startswith("wss://"):
        sslopt = {"cert_reqs": ssl.CERT_NONE} if t.insecure else {"ca_certs": t.ca_file or None}
        if t.cert_file:
            sslopt.update(certfile=t.cert_file, keyfile=t.key_file)
    headers = [f"User-Agent: {USER_AGENT}"]
    if t.token:
        headers.append(f"Authorization: Bearer {t.token}")
    try:
        return websocket.create_connection(url, subprotocols=protocols, sslopt=sslopt, header=headers,
                                           enable_multithread=True)  # fmt: skip
    except websocket.WebSocketBadStatusException as err:
        body = getattr(err, "resp_body", b"") or b""
        try:
            status = json.loads(body)
        except ValueError:
            status = {"message": body.decode(errors="replace") or str(err)}
        raise ApiError(status, err.status_code) from None
    except ConnectionRefusedError:
        raise refused(rest.hostport) from None
    except OSError as err:
        raise CliError(f"Unable to connect to the server: {err}") from None


def exit_code(status: dict[str, Any]) -> tuple[int, str]:
    """(exit status, message to print) from the final Status."""
    if status.get("status") == "Success":
        return 0, ""
    causes = (status.get("details") or {}).get("causes") or []
    code = next((c.get("message") for c in causes if c.get("reason") == "ExitCode"), None)
    if status.get("reason") == "NonZeroExitCode" and code is not None:
        return int(code), f"command terminated with exit code {code}"
    return 1, f"error: {status.get('message', 'the stream failed')}"


@contextlib.contextmanager
def raw_terminal(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size() -> bytes:
    rows, cols = struct.unpack("HHHH", fcntl_winsize())[:2]
    return json.dumps({"Width": cols, "Height": rows}).encode()


def fcntl_winsize() -> bytes:
    import fcntl

    return fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)


def session(ws: websocket.WebSocket, *, stdin: bool, tty_mode: bool, stdin_data: bytes | None = None,
            stdout: Any = None) -> int:  # fmt: skip
    """Relay our stdin (or `stdin_data`) to channel 0 and channels 1/2 to our stdout (or `stdout`) and
    stderr until the Status arrives."""
    out = stdout if stdout is not None else sys.stdout.buffer
    v5 = ws.subprotocol == "v5.channel.k8s.io"
    send_lock = threading.Lock()

    def send(channel: int, data: bytes) -> None:
        with send_lock, contextlib.suppress(websocket.WebSocketException, OSError):
            ws.send_binary(bytes([channel]) + data)

    def pump() -> None:
        if stdin_data is not None:
            chunks: Iterator[bytes] = iter([stdin_data])
        else:
            chunks = iter(lambda: os.read(sys.stdin.fileno(), 32 * 1024), b"")
        for chunk in chunks:
            send(STDIN, chunk)
        if v5:
            send(CLOSE, bytes([STDIN]))

    if tty_mode:
        send(RESIZE, terminal_size())
        signal.signal(signal.SIGWINCH, lambda *_: send(RESIZE, terminal_size()))
    if stdin:
        threading.Thread(target=pump, daemon=True).start()
    status: dict[str, Any] = {"status": "Success"}
    with raw_terminal(tty_mode):
        while True:
            try:
                message = ws.recv()
            except (websocket.WebSocketConnectionClosedException, OSError):
                break
            if not message:
                continue
            data = message if isinstance(message, bytes) else message.encode()
            channel, payload = data[0], data[1:]
            if channel == STDOUT:
                out.write(payload)
                out.flush()
            elif channel == STDERR:
                sys.stderr.buffer.write(payload)
                sys.stderr.buffer.flush()
            elif channel == ERROR and payload:
                status = json.loads(payload)
                break
    with contextlib.suppress(Exception):
        ws.close()
    code, message = exit_code(status)
    if message:
        raise CliError(message, code)
    return 0
