"""`skiff exec [-i] [-t] POD -- COMMAND...`: run a command in a running container, as `kubectl exec`.

Output is streamed as it comes (the kubelet's ExecStream). `-i` passes our stdin to the command and
closes it at EOF; `-t` runs the command on a terminal: our own terminal goes into raw mode for the
duration and its size follows window changes. `-t` without a terminal on stdin is ignored with a
warning, as kubectl does. A non-zero exit is reported and becomes our exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import termios
import threading
import tty
from collections.abc import AsyncIterator, Iterator

from skiff.kubelet.v1 import kubelet_pb2

from ._context import add_namespace_flags, api_client, namespace_of
from ._kubelet import container_name, kubelet_for_pod

CHUNK = 32 * 1024


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="run a command in a container")
    p.add_argument("pod")
    p.add_argument("-c", "--container", default="")
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the command")
    p.add_argument("-t", "--tty", action="store_true", help="run the command on a terminal")
    p.add_argument("--timeout", type=int, default=0, help="seconds; 0 means no limit")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    add_namespace_flags(p)
    p.set_defaults(run=run)


def terminal_size() -> kubelet_pb2.TerminalSize:
    size = os.get_terminal_size(sys.stdin.fileno())
    return kubelet_pb2.TerminalSize(width=size.columns, height=size.lines)


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


def stdin_reader(queue: asyncio.Queue[bytes]) -> None:
    """Feed our stdin into `queue` from a thread (b"" at EOF): a blocking read must not stall the loop."""
    loop = asyncio.get_running_loop()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(sys.stdin.fileno(), CHUNK)
            except OSError:
                chunk = b""
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            if not chunk:
                return

    threading.Thread(target=pump, name="skiff-exec-stdin", daemon=True).start()


async def requests(
    start: kubelet_pb2.ExecStart, resizes: asyncio.Queue[kubelet_pb2.TerminalSize]
) -> AsyncIterator[kubelet_pb2.ExecStreamRequest]:
    yield kubelet_pb2.ExecStreamRequest(start=start)
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    if start.stdin:
        stdin_reader(chunks)
    stdin_open = start.stdin
    while True:
        waits = {asyncio.ensure_future(resizes.get())}
        if stdin_open:
            waits.add(asyncio.ensure_future(chunks.get()))
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            item = task.result()
            if isinstance(item, kubelet_pb2.TerminalSize):
                yield kubelet_pb2.ExecStreamRequest(resize=item)
            elif item:
                yield kubelet_pb2.ExecStreamRequest(stdin=item)
            else:
                stdin_open = False
                yield kubelet_pb2.ExecStreamRequest(close_stdin=True)


async def run(args: argparse.Namespace) -> int:
    command = args.after_dash or args.command
    if not command:
        raise SystemExit("error: you must specify at least one command for the container")
    use_tty = args.tty and os.isatty(sys.stdin.fileno())
    if args.tty and not use_tty:
        print("Unable to use a TTY - input is not a terminal or the right kind of file", file=sys.stderr)
    namespace = namespace_of(args)
    async with api_client() as client:
        pod, kubelet, channel = await kubelet_for_pod(client, args.pod, namespace)
    start = kubelet_pb2.ExecStart(
        namespace=namespace,
        pod=args.pod,
        container=container_name(pod, args.container),
        command=command,
        stdin=args.stdin,
        tty=use_tty,
    )
    resizes: asyncio.Queue[kubelet_pb2.TerminalSize] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    if use_tty:
        start.size.CopyFrom(terminal_size())
        loop.add_signal_handler(signal.SIGWINCH, lambda: resizes.put_nowait(terminal_size()))
    code = 1
    try:
        with raw_terminal(use_tty):
            call = kubelet.ExecStream(requests(start, resizes), timeout=args.timeout or None)
            async for response in call:
                which = response.WhichOneof("output")
                if which == "stdout":
                    sys.stdout.buffer.write(response.stdout)
                    sys.stdout.flush()
                elif which == "stderr":
                    sys.stderr.buffer.write(response.stderr)
                    sys.stderr.flush()
                elif which == "exit_code":
                    code = response.exit_code
    finally:
        if use_tty:
            loop.remove_signal_handler(signal.SIGWINCH)
        await channel.close()  # type: ignore[attr-defined]
    if code != 0:
        print(f"command terminated with exit code {code}", file=sys.stderr)
    return code
