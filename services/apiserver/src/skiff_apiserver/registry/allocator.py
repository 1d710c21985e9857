"""One etcd key per allocated item (a cluster IP, a node port), shared by every apiserver replica.

Taking an item is a create transaction on <prefix>/ranges/<range>/<item> whose value names the owner, so
two replicas can never hand out one item twice: the second create fails its compare. Releasing deletes the
key only while it still names the releasing owner, so a late release never frees an item someone else
took since. Kubernetes keeps one bitmap object per range (or one IPAddress object per IP since 1.27);
one key per item is the latter, which needs no read-modify-write of a shared bitmap.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence

from skiff_apiserver.storage.etcd import CompareFailed, EtcdClient, prefix_end


class KeyAllocator:
    def __init__(self, client: EtcdClient, prefix: str, range_name: str) -> None:
        self.client = client
        self.prefix = f"{prefix.rstrip('/')}/ranges/{range_name}/"

    def _key(self, item: str) -> bytes:
        return (self.prefix + item).encode()

    async def take(self, item: str, owner: str) -> bool:
        """True if `item` is now `owner`'s; False if someone holds it."""
        try:
            await self.client.create(self._key(item), owner.encode())
        except CompareFailed:
            return False
        return True

    async def take_any(
        self,
        owner: str,
        bands: Sequence[range],
        to_item: Callable[[int], str],
        avoid: Collection[str] = (),
        tries: int = 32,
    ) -> str | None:
        """A random free item, from the first band that has one (random, not sequential, so replicas
        rarely race for one item); when random draws keep hitting taken items the band is walked once
        from a random start. None: every band is full.

        `avoid` must name every item `owner` already holds: the etcd client reports a create that finds
        its own value as done (a retried write whose first reply was lost), so an item the owner holds
        would look freshly taken."""
        for band in bands:
            if not len(band):
                continue
            for _ in range(min(tries, len(band))):
                item = to_item(band[random.randrange(len(band))])
                if item not in avoid and await self.take(item, owner):
                    return item
            start = random.randrange(len(band))
            for i in range(len(band)):
                item = to_item(band[(start + i) % len(band)])
                if item not in avoid and await self.take(item, owner):
                    return item
        return None

    async def release(self, item: str, owner: str) -> None:
        kv, _ = await self.client.get(self._key(item))
        if kv is None or kv.value != owner.encode():
            return
        try:
            await self.client.delete(kv.key, kv.mod_revision)
        except CompareFailed:
            pass  # released or retaken meanwhile: not ours to delete any more

    async def items(self) -> dict[str, tuple[str, int]]:
        """Every allocated item: item -> (owner, mod_revision)."""
        start = self.prefix.encode()
        out: dict[str, tuple[str, int]] = {}
        while True:
            kvs, more, _ = await self.client.range(start, prefix_end(self.prefix.encode()), limit=1000)
            for kv in kvs:
                out[kv.key.decode()[len(self.prefix) :]] = (kv.value.decode(), kv.mod_revision)
            if not more or not kvs:
                return out
            start = kvs[-1].key + b"\0"

    async def release_exact(self, item: str, mod_revision: int) -> bool:
        """Release `item` only if it is still exactly as read at `mod_revision` (repair's release)."""
        try:
            await self.client.delete(self._key(item), mod_revision)
        except CompareFailed:
            return False
        return True

    async def holder(self, item: str) -> str | None:
        kv, _ = await self.client.get(self._key(item))
        return kv.value.decode() if kv is not None else None
