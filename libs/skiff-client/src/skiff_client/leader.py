"""Leader election with a coordination.k8s.io Lease (kube-system/<name>), shared by the
controller-manager (``kube-controller-manager``) and the scheduler (``kube-scheduler``).

Only the holder does the work. The holder renews ``renewTime`` every ``retry_period``; a candidate
takes the lease when ``renewTime + leaseDurationSeconds`` has passed. Every write is an Update carrying
the resourceVersion that was read, so two candidates cannot both win (one gets Conflict). A leader
that fails to renew within ``renew_deadline`` gives up: ``hold`` returns, and the caller stops its work
(the controller-manager its controllers, the scheduler its scheduling loop) and campaigns again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from time import monotonic as _monotonic

from prometheus_client import Gauge
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import namespace_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors
from skiff_common.observability import get_logger, health

from skiff_client import ApiClient
from skiff_client.events import now_timestamp

log = get_logger(__name__)

# client-go's gauge: 1 while this process leads the named lease, 0 otherwise.
MASTER_STATUS = Gauge(
    "leader_election_master_status",
    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.",
    ["name"],
)


class LeaderElector:
    def __init__(
        self,
        api: ApiClient,
        identity: str,
        *,
        name: str = "kube-controller-manager",
        namespace: str = "kube-system",
        lease_duration: int = 15,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
    ) -> None:
        self.api = api
        self.identity = identity
        self.name = name
        self.namespace = namespace
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._renewed_at = 0.0  # monotonic time of the last successful renewal while leading (0: not leading)
        MASTER_STATUS.labels(name).set(0)
        # kube-controller-manager's "leaderElection" health check: a leader that has not renewed within
        # the renew deadline (plus a retry) is unhealthy; a standby is fine.
        health.checks.add("leader-election", self._healthy)

    def _healthy(self) -> bool:
        if not self._renewed_at:
            return True
        return _monotonic() - self._renewed_at < self.renew_deadline + self.retry_period

    def _leading(self, now_leading: bool) -> None:
        self._renewed_at = _monotonic() if now_leading else 0.0
        MASTER_STATUS.labels(self.name).set(1 if now_leading else 0)

    async def try_acquire_or_renew(self) -> bool:
        now = now_timestamp()
        try:
            lease = await self.api.get(lease_pb2.Lease, self.name, self.namespace)
        except errors.NotFound:
            lease = lease_pb2.Lease(
                api_version="coordination.k8s.io/v1",
                kind="Lease",
                metadata=meta_pb2.ObjectMeta(name=self.name, namespace=self.namespace),
            )
            lease.spec.holder_identity = self.identity
            lease.spec.lease_duration_seconds = self.lease_duration
            lease.spec.acquire_time.CopyFrom(now)
            lease.spec.renew_time.CopyFrom(now)
            lease.spec.lease_transitions = 0
            try:
                await self.api.create(lease)
                return True
            except errors.AlreadyExists:
                return False
            except errors.NotFound:  # the namespace does not exist yet
                await self._ensure_namespace()
                return False
        spec = lease.spec
        holder = spec.holder_identity if spec.HasField("holder_identity") else ""
        if holder != self.identity:
            expires = spec.renew_time.seconds + (spec.lease_duration_seconds or self.lease_duration)
            if holder and datetime.now(UTC).timestamp() < expires:
                return False
            spec.holder_identity = self.identity
            spec.acquire_time.CopyFrom(now)
            spec.lease_transitions = (spec.lease_transitions if spec.HasField("lease_transitions") else 0) + 1
        spec.renew_time.CopyFrom(now)
        spec.lease_duration_seconds = self.lease_duration
        try:
            await self.api.update(lease)
            return True
        except errors.Conflict:
            return False

    async def _ensure_namespace(self) -> None:
        try:
            await self.api.create(
                namespace_pb2.Namespace(
                    api_version="v1", kind="Namespace", metadata=meta_pb2.ObjectMeta(name=self.namespace)
                )
            )
        except errors.AlreadyExists:
            pass

    async def acquire(self) -> None:
        """Block until this process holds the lease."""
        while True:
            try:
                if await self.try_acquire_or_renew():
                    log.info("leader.acquired", identity=self.identity, lease=f"{self.namespace}/{self.name}")
                    self._leading(True)
                    return
            except errors.SkiffError as exc:
                log.warning("leader.acquire_failed", error=str(exc))
            await asyncio.sleep(self.retry_period)

    async def hold(self) -> None:
        """Renew until a renewal fails for ``renew_deadline`` seconds; then return (leadership lost)."""
        loop = asyncio.get_running_loop()
        last_ok = loop.time()
        while True:
            await asyncio.sleep(self.retry_period)
            try:
                # A renewal that hangs (apiserver gone, calls waiting to reconnect) is a failed one.
                if await asyncio.wait_for(self.try_acquire_or_renew(), timeout=self.renew_deadline):
                    last_ok = loop.time()
                    self._leading(True)
                    continue
            except (errors.SkiffError, TimeoutError) as exc:
                log.warning("leader.renew_failed", error=str(exc) or type(exc).__name__)
            if loop.time() - last_ok > self.renew_deadline:
                log.error("leader.lost", identity=self.identity)
                self._leading(False)
                return
