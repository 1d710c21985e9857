"""CRI log format writer (what kubelet's ``kubectl logs`` parser expects).

Each line is ``<RFC3339Nano UTC> <stdout|stderr> <F|P> <content>\\n``. Output is split on newlines; a
line longer than 16 KiB is emitted in 16 KiB pieces tagged ``P`` (partial) with the last piece ``F``,
like containerd's ``cio`` logger. An unterminated tail at EOF is flushed as ``F``. stdout and stderr
keep separate line buffers but share one file; whole records are written with a single ``write`` on an
``O_APPEND`` fd, so records never interleave. ``reopen()`` supports rotation: the kubelet renames the
file and asks the shim to reopen the path.
"""

from __future__ import annotations

import os
import time

MAX_LINE = 16 * 1024


def timestamp(ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class CriLogWriter:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.fd = -1
        self.buffers: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.reopen()

    def reopen(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.path:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)

    def _emit(self, stream: str, tag: str, content: bytes) -> None:
        if self.fd >= 0:
            os.write(self.fd, f"{timestamp()} {stream} {tag} ".encode() + content + b"\n")

    def write(self, stream: str, data: bytes) -> None:
        buf = self.buffers[stream] + data
        while True:
            nl = buf.find(b"\n", 0, MAX_LINE + 1)
            if nl >= 0:
                self._emit(stream, "F", buf[:nl])
                buf = buf[nl + 1 :]
            elif len(buf) > MAX_LINE:  # no newline in the first 16 KiB + 1: cut a partial record
                self._emit(stream, "P", buf[:MAX_LINE])
                buf = buf[MAX_LINE:]
            else:
                break
        self.buffers[stream] = buf

    def flush(self, stream: str) -> None:
        if self.buffers[stream]:
            self._emit(stream, "F", self.buffers[stream])
            self.buffers[stream] = b""

    def close(self) -> None:
        for stream in self.buffers:
            self.flush(stream)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
