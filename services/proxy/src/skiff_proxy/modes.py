"""The proxy modes behind one small interface: render a ruleset, hand it to the kernel, remove it.
nftables is the default (kube-proxy's newest mode); iptables goes through iptables-restore."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from skiff_proxy import iptables, kernel, nftables
from skiff_proxy.model import ServicePort


class Desired(Protocol):
    """A rendered ruleset: its full transaction, and a smaller one from a previous ruleset if possible."""

    def full(self) -> str: ...

    def delta(self, old: Any) -> str | None: ...


class Mode(Protocol):
    @property
    def name(self) -> str: ...

    def render(self, ports: Sequence[ServicePort], opts: nftables.Options) -> Desired: ...

    async def apply(self, text: str, opts: nftables.Options, prefix: Sequence[str] = ()) -> None: ...

    async def remove(self, opts: nftables.Options, prefix: Sequence[str] = ()) -> None:
        """Remove every rule this mode made for `opts.table`, and nothing else."""


@dataclass(frozen=True)
class NftablesMode:
    name: str = "nftables"

    def render(self, ports: Sequence[ServicePort], opts: nftables.Options) -> Desired:
        return nftables.build(ports, opts)

    async def apply(self, text: str, opts: nftables.Options, prefix: Sequence[str] = ()) -> None:
        await kernel.nft_apply(text, prefix=prefix)

    async def remove(self, opts: nftables.Options, prefix: Sequence[str] = ()) -> None:
        await kernel.nft_apply(nftables.cleanup(opts.table), prefix=prefix)


async def _status(argv: Sequence[str]) -> int:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await proc.wait()


@dataclass(frozen=True)
class IptablesMode:
    name: str = "iptables"

    def render(self, ports: Sequence[ServicePort], opts: nftables.Options) -> Desired:
        return iptables.build(ports, opts)

    async def apply(self, text: str, opts: nftables.Options, prefix: Sequence[str] = ()) -> None:
        await kernel.iptables_restore(text, prefix=prefix)
        for table, chain, spec in iptables.jumps(opts):  # our chains exist now: hook them in once
            if await _status([*prefix, "iptables", "-w", "5", "-t", table, "-C", chain, *spec]) != 0:
                await kernel.run_tool(["iptables", "-w", "5", "-t", table, "-I", chain, "1", *spec], "", prefix=prefix)

    async def remove(self, opts: nftables.Options, prefix: Sequence[str] = ()) -> None:
        for table, chain, spec in iptables.jumps(opts):
            while await _status([*prefix, "iptables", "-w", "5", "-t", table, "-D", chain, *spec]) == 0:
                pass
        mine = iptables.chain_prefix(opts.table)
        text = []
        for table in ("nat", "filter"):
            saved = await kernel.run_tool(["iptables-save", "-t", table], "", prefix=prefix)
            chains = [line[1:].split()[0] for line in saved.splitlines() if line.startswith(f":{mine}")]
            if chains:  # a table with none of ours is not even named
                declare = [f":{c} - [0:0]\n" for c in chains]
                text += [f"*{table}\n", *declare, *(f"-X {c}\n" for c in chains), "COMMIT\n"]
        if text:
            await kernel.iptables_restore("".join(text), prefix=prefix)


def mode_named(name: str) -> Mode:
    if name == "nftables":
        return NftablesMode()
    if name == "iptables":
        return IptablesMode()
    raise ValueError(f"--proxy-mode: unsupported value {name!r} (nftables, iptables)")
