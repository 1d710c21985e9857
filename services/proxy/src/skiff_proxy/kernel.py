"""Hand a ruleset to the kernel: `nft -f -` (or `iptables-restore`) as one transaction.

The proxy never edits rules one by one: each sync writes a complete description of its own table/chains
and the tool commits it atomically, or not at all when it is invalid (the old ruleset then stays in
force and the error is raised with the tool's message). `prefix` runs the tool elsewhere, e.g.
``["ip", "netns", "exec", "test-ns"]`` in the kernel tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence


class ApplyError(RuntimeError):
    """The kernel refused a ruleset; the previous one is still in force."""


async def run_tool(argv: Sequence[str], text: str, *, prefix: Sequence[str] = ()) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            *prefix,
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:  # the tool is not installed: say which, as the kernel's refusal would
        raise ApplyError(f"cannot run {(list(prefix) + list(argv))[0]}: {exc.strerror}") from None
    out, err = await proc.communicate(text.encode())
    if proc.returncode != 0:
        raise ApplyError(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode().strip()[:2000]}")
    return out.decode()


async def nft_apply(ruleset: str, *, prefix: Sequence[str] = ()) -> None:
    await run_tool(["nft", "-f", "-"], ruleset, prefix=prefix)


async def nft_list_table(table: str, *, prefix: Sequence[str] = ()) -> str:
    """The table as the kernel holds it ("" when absent)."""
    proc = await asyncio.create_subprocess_exec(
        *prefix,
        "nft",
        "list",
        "table",
        "ip",
        table,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    return out.decode() if proc.returncode == 0 else ""


async def iptables_restore(text: str, *, prefix: Sequence[str] = ()) -> None:
    """--noflush: only the chains named in the text are replaced; every other rule stays as it is."""
    await run_tool(["iptables-restore", "--noflush", "-w", "5"], text, prefix=prefix)
