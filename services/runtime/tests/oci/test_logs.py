"""CRI log format: tags, partial lines, rotation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from skiff_runtime.oci.shim.logs import MAX_LINE, CriLogWriter

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode

LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$")


def _records(path: Path) -> list[tuple[str, str, bytes]]:
    out = []
    for raw in path.read_bytes().split(b"\n")[:-1]:
        m = LINE.match(raw)
        assert m, raw[:120]
        out.append((m.group(1).decode(), m.group(2).decode(), m.group(3)))
    return out


async def test_container_output_in_cri_format(env: Env) -> None:
    script = "echo out1; echo err1 >&2; printf 'no-newline'"
    state, _ = await env.run("logs", ["sh", "-c", script])
    assert state.exit_code == 0
    records = _records(env.log("logs"))
    assert ("stdout", "F", b"out1") in records
    assert ("stderr", "F", b"err1") in records
    # stdout and stderr are separate pipes, so only the order within one stream is defined: the
    # unterminated last line of stdout is written, as a full line, when the container exits.
    assert [r for r in records if r[0] == "stdout"][-1] == ("stdout", "F", b"no-newline")


async def test_long_line_is_split_into_partials(env: Env) -> None:
    script = "dd if=/dev/zero bs=1000 count=40 2>/dev/null | tr '\\0' a; echo"
    state, _ = await env.run("long", ["sh", "-c", script])
    assert state.exit_code == 0
    records = _records(env.log("long"))
    assert [(tag, len(msg)) for _, tag, msg in records] == [("P", 16384), ("P", 16384), ("F", 40000 - 32768)]


async def test_reopen_log_after_rotation(env: Env) -> None:
    script = "echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after"
    await env.create("rot", ["sh", "-c", script])
    await env.executor.start("rot")
    await env.wait_for_output("rot", "before")
    rotated = env.log("rot").with_suffix(".1")
    env.log("rot").rename(rotated)
    await env.executor.reopen_log("rot")
    code, _, _ = await env.executor.exec_sync("rot", ["touch", "/tmp/go"])
    assert code == 0
    await env.executor.wait("rot")
    assert [r[2] for r in _records(rotated)] == [b"before"]
    assert [r[2] for r in _records(env.log("rot"))] == [b"after"]


def test_writer_splits_and_buffers(tmp_path: Path) -> None:
    path = tmp_path / "w.log"
    w = CriLogWriter(str(path))
    w.write("stdout", b"par")
    w.write("stderr", b"e1\n")
    w.write("stdout", b"tial\nx" + b"y" * MAX_LINE + b"\n")
    w.write("stdout", b"z" * MAX_LINE)  # exactly 16 KiB, newline may still come: not emitted yet
    w.write("stdout", b"\n")
    w.close()
    assert [(s, t, len(m) if len(m) > 20 else m) for s, t, m in _records(path)] == [
        ("stderr", "F", b"e1"),
        ("stdout", "F", b"partial"),
        ("stdout", "P", MAX_LINE),
        ("stdout", "F", b"y"),
        ("stdout", "F", MAX_LINE),
    ]


def test_writer_without_path_discards(tmp_path: Path) -> None:
    w = CriLogWriter(None)
    w.write("stdout", b"ignored\n")
    w.close()
    assert list(tmp_path.iterdir()) == []
