"""The lease endpoint reconciler: the `kubernetes` Service's endpoints are every apiserver that is alive.

Kubernetes' default (`--endpoint-reconciler-type=lease`), in the same steps. Every interval each
apiserver:

    1. refreshes its own master lease (masterleases.py: a key with a TTL)
    2. lists the live leases                          -> the masters, sorted
    3. writes the Endpoints and EndpointSlices for them (apiendpoints.py), only where they differ, and
       deletes its slices that are no longer wanted

It is level-triggered: each pass reads what is stored and what should be, whatever happened in between
(an apiserver killed, etcd restarted, someone deleting the Endpoints), so restarts need no bookkeeping and
several apiservers agree without talking to each other: they compute the same objects from the same
leases. A killed apiserver drops out once its lease expires, at the next pass of any survivor. `stop()`
is RemoveEndpoints: the apiserver deletes its lease and rewrites the endpoints without itself at once, so
a clean shutdown never leaves clients a dead address for a TTL.

With no lease at all (etcd lost every key), the endpoints are kept rather than emptied, as Kubernetes
refuses to erase the last endpoints of the API: an empty list only breaks the pods that still have a
working apiserver behind an old entry.
"""

from __future__ import annotations

import asyncio
from typing import Any

from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_common import errors

from skiff_apiserver import metrics
from skiff_apiserver.logs import log
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry import apiendpoints as want
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.registry.bootstrap import ensure
from skiff_apiserver.registry.masterleases import DEFAULT_INTERVAL, Master, MasterLeases
from skiff_apiserver.registry.reads import ListOptions

RECONCILER_TYPES = ("lease", "none")


def check_endpoint_reconciler_flags(kind: str, ttl: int, interval: float) -> None:
    """ValueError naming the flag: a lease must outlive the refreshes that keep it."""
    if kind not in RECONCILER_TYPES:
        raise ValueError(f"--endpoint-reconciler-type: unsupported value {kind!r} (use lease or none)")
    if ttl < 1:
        raise ValueError(f"--endpoint-reconciler-ttl: must be at least 1 second, got {ttl}")
    if not 0 < interval < ttl:
        raise ValueError(
            f"--endpoint-reconciler-interval: must be more than 0 and less than the TTL ({ttl} s), got {interval}"
        )


class LeaseEndpointReconciler:
    def __init__(
        self, registry: Registry, leases: MasterLeases, me: Master, *, interval: float = DEFAULT_INTERVAL
    ) -> None:
        self.registry = registry
        self.leases = leases
        self.me = me
        self.interval = interval
        self.masters: list[Master] = []  # what the last pass wrote (or found right)
        self._stopping = False
        self._lock = asyncio.Lock()  # one pass at a time: the loop's and stop()'s never interleave

    async def reconcile(self) -> list[Master]:
        """One pass: refresh our lease, write the endpoints of every live lease. Returns those masters."""
        async with self._lock:
            if self._stopping:
                return self.masters
            await self.leases.update(self.me)
            return await self._write(await self.leases.live())

    async def run(self) -> None:
        """Reconcile every interval until cancelled; a failed pass is logged and retried at the next."""
        while True:
            try:
                await self.reconcile()
            except errors.SkiffError as exc:
                metrics.ENDPOINT_RECONCILES.labels("error").inc()
                log.warning("kubernetes_endpoints_reconcile_failed", master=str(self.me), error=str(exc))
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """RemoveEndpoints: delete our lease and write the endpoints of the others. The caller cancels
        run() first; any pass after this one is a no-op."""
        async with self._lock:
            self._stopping = True
            await self.leases.remove(self.me)
            remaining = await self.leases.live()
            await self._write(remaining)
            log.info("kubernetes_endpoints_removed_self", master=str(self.me), left=[str(m) for m in remaining])

    async def _write(self, live: list[Master]) -> list[Master]:
        metrics.LIVE_MASTERS.set(len(live))
        if not live:
            log.warning("kubernetes_endpoints_no_live_master", kept=[str(m) for m in self.masters])
            return self.masters
        wrote = await ensure(self.registry, want.desired_endpoints(live), want.endpoints_match)
        slices = want.desired_slices(live)
        for s in slices:
            wrote = await ensure(self.registry, s, want.slice_matches) or wrote
        wrote = await self._delete_other_slices({s.metadata.name for s in slices}) or wrote
        metrics.ENDPOINT_RECONCILES.labels("written" if wrote else "unchanged").inc()
        if live != self.masters:
            log.info("kubernetes_endpoints_masters", masters=[str(m) for m in live], wrote=wrote)
        self.masters = live
        return live

    async def _delete_other_slices(self, wanted: set[str]) -> bool:
        info = kinds.kind_of(es.EndpointSlice())
        selector = f"{want.SERVICE_NAME_LABEL}={want.NAME}"
        found, _ = await self.registry.list(info, ListOptions(namespace=want.NAMESPACE, label_selector=selector))
        deleted = False
        for s in found:
            obj: Any = s
            if not want.is_ours(obj) or obj.metadata.name in wanted:
                continue
            try:
                await self.registry.delete(info, want.NAMESPACE, obj.metadata.name, uid=obj.metadata.uid)
                log.info("kubernetes_endpoints_slice_deleted", name=obj.metadata.name)
                deleted = True
            except (errors.NotFound, errors.Conflict):
                pass  # another apiserver deleted (or rewrote) it first: the next pass looks again
        return deleted
