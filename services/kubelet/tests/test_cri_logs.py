"""CRI log parsing, tail and follow."""

from __future__ import annotations

import asyncio
from pathlib import Path

from skiff_kubelet.cri_logs import follow, parse_lines, read_all

TS = "2024-05-01T10:00:00.123456789Z"


def test_parse_joins_partials_per_stream() -> None:
    raw = [
        f"{TS} stdout P hel".encode(),
        f"{TS} stderr F oops".encode(),
        f"{TS} stdout F lo".encode(),
        f"{TS} stdout F ".encode(),
        b"garbage",
    ]
    out = list(parse_lines(raw))
    assert [(x.stream, x.line) for x in out] == [("stderr", b"oops"), ("stdout", b"hello"), ("stdout", b"")]
    assert out[0].timestamp == TS


def test_read_all_tail_and_incomplete_last_line(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_bytes(b"".join(f"{TS} stdout F line{i}\n".encode() for i in range(5)) + f"{TS} stdout F half".encode())
    lines, offset = read_all(log)
    assert [x.line for x in lines] == [b"line0", b"line1", b"line2", b"line3", b"line4"]
    assert offset < log.stat().st_size
    tail, _ = read_all(log, tail=2)
    assert [x.line for x in tail] == [b"line3", b"line4"]
    assert read_all(tmp_path / "missing.log") == ([], 0)


async def test_follow_picks_up_appended_lines_until_writer_stops(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_bytes(f"{TS} stdout F first\n".encode())
    _, offset = read_all(log)
    alive = [True]

    async def running() -> bool:
        return alive[0]

    got: list[bytes] = []

    async def consume() -> None:
        async for line in follow(log, offset, running):
            got.append(line.line)

    task = asyncio.create_task(consume())
    with log.open("ab") as f:
        f.write(f"{TS} stdout P sec".encode())
        f.flush()
        await asyncio.sleep(0.05)
        f.write(f"ond\n{TS} stdout F !\n{TS} stdout F ".encode())
        f.flush()
        await asyncio.sleep(0.05)
        f.write(b"third\n")
    alive[0] = False
    await asyncio.wait_for(task, 5)
    assert got == [b"second!", b"third"]  # P "second" joined with its F ending "!"
