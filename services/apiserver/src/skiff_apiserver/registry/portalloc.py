"""NodePort allocation from --service-node-port-range (default 30000-32767), one etcd key per port
(allocator.py), so replicas never hand out a port twice. Like ClusterIPs, random draws prefer the upper
part of the range so ports asked for by number (usually low ones) stay free (KEP-3668)."""

from __future__ import annotations

from collections.abc import Collection

from skiff_apiserver.registry.allocator import KeyAllocator
from skiff_apiserver.registry.ipalloc import RangeError
from skiff_apiserver.storage.etcd import EtcdClient


def parse_port_range(text: str) -> range:
    first, sep, last = text.partition("-")
    try:
        lo, hi = int(first), int(last if sep else first)
    except ValueError:
        raise ValueError(f"--service-node-port-range {text!r}: want first-last, e.g. 30000-32767") from None
    if not 1 <= lo <= hi <= 65535:
        raise ValueError(f"--service-node-port-range {text!r}: ports must be 1-65535, first <= last")
    return range(lo, hi + 1)


class NodePortAllocator:
    def __init__(self, client: EtcdClient, prefix: str, port_range: str) -> None:
        self.range = parse_port_range(port_range)
        self.keys = KeyAllocator(client, prefix, "servicenodeports")
        size = len(self.range)
        low = min(max(16, size // 32), 128)
        self._bands = (self.range[low:], self.range[:low])

    @property
    def text(self) -> str:
        return f"{self.range.start}-{self.range.stop - 1}"

    async def allocate(self, owner: str, wanted: int = 0, holds: Collection[int] = (), *, dry_run: bool = False) -> int:
        """`wanted`, or a free port; `holds`: the ports `owner` has already (never handed out again).
        dry_run: check `wanted` is free and in range, take nothing (0 if none was wanted)."""
        if wanted:
            if wanted not in self.range:
                raise RangeError(f"provided port is not in the valid range. The range of valid ports is {self.text}")
            key = str(wanted)
            free = await self.keys.holder(key) is None if dry_run else await self.keys.take(key, owner)
            if not free:
                raise RangeError("provided port is already allocated")
            return wanted
        if dry_run:
            return 0
        port = await self.keys.take_any(owner, self._bands, str, avoid={str(p) for p in holds})
        if port is None:
            raise RangeError(f"range {self.text} is full")
        return int(port)

    async def release(self, port: int, owner: str) -> None:
        if port:
            await self.keys.release(str(port), owner)
