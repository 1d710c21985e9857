"""Reading CRI container log files: ``<RFC3339Nano> <stdout|stderr> <F|P> <message>``.

Partial lines (tag P, split by the runtime at 16 KiB) are joined until the F line that ends them, so
clients always receive whole lines. Tail reads the whole file (logs are small in Skiff and rotation is
not implemented yet); follow polls for growth, which is simple and robust against the writer being a
separate process (the runtime's shim).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FOLLOW_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class LogLine:
    timestamp: str
    stream: str
    line: bytes  # without the trailing newline


def parse_lines(raw: Iterable[bytes], pending: dict[str, tuple[str, bytes]] | None = None) -> Iterator[LogLine]:
    """Parse CRI log lines (each without its newline). ``pending`` carries partial lines across calls."""
    pending = {} if pending is None else pending
    for raw_line in raw:
        parts = raw_line.split(b" ", 3)
        if len(parts) < 3:
            continue  # torn or foreign line: skip rather than crash the stream
        ts, stream, tag = parts[0].decode(errors="replace"), parts[1].decode(errors="replace"), parts[2]
        msg = parts[3] if len(parts) == 4 else b""
        first_ts, acc = pending.pop(stream, (ts, b""))
        if tag == b"P":
            pending[stream] = (first_ts, acc + msg)
            continue
        yield LogLine(first_ts, stream, acc + msg)


def read_all(path: Path, tail: int = 0) -> tuple[list[LogLine], int]:
    """Whole lines of a log file (the last ``tail`` if > 0) and the offset after the last newline."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    end = data.rfind(b"\n") + 1
    lines = list(parse_lines(data[:end].splitlines()))
    if tail > 0:
        lines = list(deque(lines, maxlen=tail))
    return lines, end


async def follow(path: Path, offset: int, still_running: Callable[[], Awaitable[bool]]) -> AsyncIterator[LogLine]:
    """Yield new lines after ``offset`` until ``still_running()`` says the writer is gone and the file
    has no more complete lines."""
    pending: dict[str, tuple[str, bytes]] = {}
    buf = b""
    while True:
        try:
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            buf += chunk
            end = buf.rfind(b"\n") + 1
            for line in parse_lines(buf[:end].splitlines(), pending):
                yield line
            buf = buf[end:]
            continue
        if not await still_running():
            return
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
