"""The proxy modes behind one small interface: render a ruleset, render its removal, hand text to the
kernel. nftables is the default (kube-proxy's newest mode); iptables goes through iptables-restore."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from skiff_proxy import kernel, nftables
from skiff_proxy.model import ServicePort


class Desired(Protocol):
    """A rendered ruleset: its full transaction, and a smaller one from a previous ruleset if possible."""

    def full(self) -> str: ...

    def delta(self, old: Any) -> str | None: ...


class Mode(Protocol):
    name: str

    def render(self, ports: Sequence[ServicePort], opts: nftables.Options) -> Desired: ...

    def cleanup(self, opts: nftables.Options) -> str: ...

    async def apply(self, text: str, prefix: Sequence[str] = ()) -> None: ...


@dataclass(frozen=True)
class NftablesMode:
    name: str = "nftables"

    def render(self, ports: Sequence[ServicePort], opts: nftables.Options) -> Desired:
        return nftables.build(ports, opts)

    def cleanup(self, opts: nftables.Options) -> str:
        return nftables.cleanup(opts.table)

    async def apply(self, text: str, prefix: Sequence[str] = ()) -> None:
        await kernel.nft_apply(text, prefix=prefix)


def mode_named(name: str) -> Mode:
    if name == "nftables":
        return NftablesMode()
    raise ValueError(f"--proxy-mode: unsupported value {name!r} (nftables)")
