"""Repair of Service IP and node-port allocations, as kube-apiserver's ipallocator/portallocator repair
controllers do.

Allocation and the Service write are two etcd transactions: an apiserver that dies between them leaves an
item taken by a Service that was never stored (a leak), and a restored or hand-edited etcd can hold a
Service whose item has no key (a hole, which a later Service could be handed twice). Each pass reads every
allocation key, then every Service (a later revision than the keys, so a Service created in between is
seen), and:

* a key no stored Service holds is released, but only after it was seen leaked in LEAK_PASSES passes in a
  row (a create in flight has taken its IP and not yet written its Service), and only if the key is still
  exactly as read (a conditional delete at its mod revision);
* an item a Service holds without a key gets its key back; an item held by two Services is reported.

Every apiserver replica may run it: every write is conditional.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from skiff_apiserver.logs import log
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.allocator import KeyAllocator
from skiff_apiserver.registry.strategies.service_alloc import ServiceAllocations, held_ip, held_ports, owner
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import EtcdClient, prefix_end

LEAK_PASSES = 3
INTERVAL_SECONDS = 60.0


@dataclass
class RepairReport:
    released: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


class ServiceAllocationRepair:
    def __init__(self, client: EtcdClient, prefix: str, allocations: ServiceAllocations) -> None:
        self.client = client
        self.prefix = prefix
        self.allocations = allocations
        self._suspects: Counter[tuple[str, str, str, int]] = Counter()

    async def run(self, interval: float = INTERVAL_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                report = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # etcd unavailable for a moment: try again next interval
                log.warning("service_allocation_repair_failed", error=str(exc))
                continue
            if report.released or report.restored or report.conflicts:
                log.info("service_allocations_repaired", **vars(report))

    async def run_once(self) -> RepairReport:
        report = RepairReport()
        ranges: list[tuple[str, KeyAllocator, dict[str, tuple[str, int]]]] = []
        if self.allocations.ips is not None:
            ranges.append(("ip", self.allocations.ips.keys, await self.allocations.ips.keys.items()))
        if self.allocations.ports is not None:
            ranges.append(("port", self.allocations.ports.keys, await self.allocations.ports.keys.items()))
        held: dict[str, dict[str, str]] = {"ip": {}, "port": {}}
        for svc in await self._services():
            who = owner(svc)
            items = {"ip": [held_ip(svc)] if held_ip(svc) else [], "port": [str(p) for p in held_ports(svc)]}
            for what, values in items.items():
                for item in values:
                    other = held[what].setdefault(item, who)
                    if other != who:
                        report.conflicts.append(f"{what} {item}: {other} and {who}")
        seen: set[tuple[str, str, str, int]] = set()
        for what, keys, taken in ranges:
            for item, (who, rev) in taken.items():
                if held[what].get(item) == who:
                    continue
                suspect = (what, item, who, rev)
                seen.add(suspect)
                self._suspects[suspect] += 1
                if self._suspects[suspect] >= LEAK_PASSES and await keys.release_exact(item, rev):
                    report.released.append(f"{what} {item} ({who})")
            for item, who in held[what].items():
                if item not in taken and await keys.take(item, who):
                    report.restored.append(f"{what} {item} ({who})")
        for gone in set(self._suspects) - seen:  # no longer leaked (its Service was written): forget it
            del self._suspects[gone]
        for gone in [s for s in seen if self._suspects[s] >= LEAK_PASSES]:
            del self._suspects[gone]
        return report

    async def _services(self) -> list[Any]:
        info = kinds.lookup_resource("services")
        start = codec.resource_prefix(self.prefix, info)
        end = prefix_end(start)
        out: list[Any] = []
        while True:
            kvs, more, _ = await self.client.range(start, end, limit=500)
            out.extend(codec.decode(info, kv.value, kv.mod_revision) for kv in kvs)
            if not more or not kvs:
                return out
            start = kvs[-1].key + b"\0"
