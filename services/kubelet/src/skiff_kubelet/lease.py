"""The node's heartbeat Lease: `kube-node-lease/<node name>`, renewed every 10 s.

Kubernetes split the kubelet's heartbeat in two (KEP-589, NodeLease): a small Lease renewed often is
the "I am alive" signal the node lifecycle controller watches, while the large Node status is written
only when it changes or once per report period (node_status.py). Writing a ~100-byte Lease instead of a
Node with its images list every 10 s is what lets a control plane watch thousands of nodes.

As the kubelet's lease controller does:

    - holderIdentity is the node name, leaseDurationSeconds 40 (the node lifecycle grace period), and
      the renew interval a quarter of it (10 s);
    - the Lease is owned by the Node (an ownerReference with the Node's UID), so the garbage collector
      deletes it with the Node; a Lease made before the Node existed gets the reference on a later renewal;
    - a renewal updates the Lease it wrote last (no read per beat); a Conflict or a missing Lease costs
      a fresh read (or a create), and a failed beat is retried after 200 ms, doubling up to 7 s, so a
      short apiserver outage does not cost a whole interval.
"""

from __future__ import annotations

import asyncio

from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import node_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_client.events import now_timestamp
from skiff_common import errors
from skiff_common.observability import get_logger

log = get_logger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
RETRY_FIRST = 0.2
RETRY_MAX = 7.0


class NodeLease:
    """Keeps `kube-node-lease/<node>` renewed; `run()` forever, `renew()` once."""

    def __init__(
        self,
        api: ApiClient,
        node_name: str,
        *,
        duration_seconds: int = LEASE_DURATION_SECONDS,
        interval: float | None = None,
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.duration = duration_seconds
        self.interval = interval if interval is not None else duration_seconds / 4
        self._last: lease_pb2.Lease | None = None

    async def _owner(self) -> meta_pb2.OwnerReference | None:
        try:
            node = await self.api.get(node_pb2.Node, self.node_name)
        except errors.NotFound:
            return None  # not registered yet: the reference is added on a later renewal
        return meta_pb2.OwnerReference(api_version="v1", kind="Node", name=self.node_name, uid=node.metadata.uid)

    async def _read_or_create(self) -> lease_pb2.Lease:
        try:
            return await self.api.get(lease_pb2.Lease, self.node_name, LEASE_NAMESPACE)
        except errors.NotFound:
            pass
        lease = lease_pb2.Lease(
            api_version="coordination.k8s.io/v1",
            kind="Lease",
            metadata=meta_pb2.ObjectMeta(name=self.node_name, namespace=LEASE_NAMESPACE),
        )
        owner = await self._owner()
        if owner is not None:
            lease.metadata.owner_references.append(owner)
        lease.spec.holder_identity = self.node_name
        lease.spec.lease_duration_seconds = self.duration
        lease.spec.renew_time.CopyFrom(now_timestamp())
        created = await self.api.create(lease)
        log.info("node_lease.created", node=self.node_name)
        return created

    async def renew(self) -> lease_pb2.Lease:
        """One beat: update the last Lease written (a fresh read after a Conflict or NotFound)."""
        lease = self._last
        for _attempt in range(2):
            if lease is None:
                lease = await self._read_or_create()
            updated = lease_pb2.Lease()
            updated.CopyFrom(lease)
            updated.spec.holder_identity = self.node_name
            updated.spec.lease_duration_seconds = self.duration
            updated.spec.renew_time.CopyFrom(now_timestamp())
            if not updated.metadata.owner_references:
                owner = await self._owner()
                if owner is not None:
                    updated.metadata.owner_references.append(owner)
            try:
                self._last = await self.api.update(updated)
                return self._last
            except (errors.Conflict, errors.NotFound):
                self._last = lease = None  # someone else wrote it, or it was deleted: read again
        raise errors.Conflict(f"lease {LEASE_NAMESPACE}/{self.node_name}: renewal kept conflicting")

    async def run(self) -> None:
        """Renew every interval; a failed beat is retried with back-off until one succeeds."""
        while True:
            delay = RETRY_FIRST
            while True:
                try:
                    await self.renew()
                    break
                except Exception as exc:
                    self._last = None
                    log.warning("node_lease.renew_failed", node=self.node_name, error=str(exc), retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
            await asyncio.sleep(self.interval)
