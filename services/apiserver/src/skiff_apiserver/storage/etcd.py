"""A small asyncio etcd v3 client on the `aetcd` library's gRPC stubs.

Why not `aetcd.Client` itself: it takes one host, cannot read a range at a revision or with a limit (so no
consistent pagination), and its watcher hides the stream, so a resumed watch cannot be made exact. Its
generated `aetcd.rpc` stubs are complete, so this module speaks the etcd API directly:

* Failover: every endpoint goes into one gRPC channel (`ipv4:a:p1,b:p2` target, `pick_first` policy), so
  gRPC reconnects to the next member when one dies; calls use `wait_for_ready` so they wait for a
  connection (within their deadline) instead of failing on the first broken socket. Conditional writes are
  made safe to retry: when a retried create/update "fails" its compare because the first attempt actually
  landed, the current value equals what we wrote and the write is reported as done.
* Writes are single transactions comparing create_revision (create) or mod_revision (update/delete), so
  optimistic concurrency never depends on a read-then-write race.
* Watches carry the `hasleader` metadata so a member cut off from the quorum cancels them instead of
  going silent; the caller resumes from its last revision (see watch_cache).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from aetcd import rpc  # type: ignore[import-untyped]
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig, channel_credentials
from skiff_common.observability.tracing import CachedTracer

from skiff_apiserver import metrics
from skiff_apiserver.storage.deadline import remaining

_tracer = CachedTracer("skiff_apiserver.etcd")
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)


@dataclass(frozen=True)
class KV:
    key: bytes
    value: bytes
    mod_revision: int
    create_revision: int


class CompareFailed(Exception):
    """A conditional write found the key in another state; `current` is that state (None: absent)."""

    def __init__(self, current: KV | None) -> None:
        super().__init__("compare failed")
        self.current = current


def _kv(raw: rpc.KeyValue) -> KV:
    return KV(raw.key, raw.value, raw.mod_revision, raw.create_revision)


class ValueTransformer(Protocol):
    """Encryption at rest (skiff_apiserver.encryption): values change form on their way to etcd and back."""

    def to_storage(self, key: bytes, value: bytes) -> bytes: ...

    def from_storage(self, key: bytes, value: bytes) -> bytes: ...


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key starting with `prefix` (etcd's range_end for a prefix)."""
    b = bytearray(prefix)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\0"


def channel_target(endpoints: Sequence[str]) -> str:
    """One gRPC target for several endpoints: a static ipv4 address list (host names are resolved once,
    at start-up), so pick_first can fail over between members."""
    hosts = []
    for raw in endpoints:
        ep = raw.strip().removeprefix("http://").removeprefix("https://")
        host, _, port = ep.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--etcd-endpoints: {raw!r} is not host:port")
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            infos = socket.getaddrinfo(host, int(port), socket.AF_INET, socket.SOCK_STREAM)
            if not infos:
                raise ValueError(f"--etcd-endpoints: cannot resolve {host!r}") from None
            host = str(infos[0][4][0])
        hosts.append(f"{host}:{port}")
    return "ipv4:" + ",".join(hosts)


def tls_server_name(endpoints: Sequence[str]) -> str | None:
    """The name to check etcd's serving certificate against when the endpoints name one host (a Service
    such as `<release>-etcd:2379` in the Helm chart): the channel dials the address it resolved to, and
    the certificate names the host, not that address. None for one IP endpoint (checked against the
    address dialled) or several distinct names.

    Several IP endpoints (stacked etcd members, cluster/controlplane.py) make one `ipv4:a,b` target,
    which has no usable authority of its own: they are checked against their one shared host, or, on
    distinct addresses, against `localhost`, which every member's serving certificate carries (kubeadm's
    etcd/server SANs, skiff_common.pki.profiles)."""
    names, addresses = set(), set()
    for raw in endpoints:
        host = raw.strip().removeprefix("http://").removeprefix("https://").rpartition(":")[0].strip("[]")
        try:
            ipaddress.ip_address(host)
            addresses.add(host)
        except ValueError:
            names.add(host)
    if len(names) == 1 and not addresses:
        return names.pop()
    if not names and len(endpoints) > 1:
        return addresses.pop() if len(addresses) == 1 else "localhost"
    return None


def map_grpc_error(exc: grpc.aio.AioRpcError) -> errors.SkiffError:
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.OUT_OF_RANGE or "compacted" in details:
        return errors.Expired(f"too old resource version: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.Timeout("etcd did not answer before the request's deadline")
    if code == grpc.StatusCode.UNAVAILABLE:
        return errors.Unavailable(f"etcd is unavailable: {details}")
    if "future revision" in details:
        return errors.Timeout(f"resource version is not yet available: {details}")
    return errors.InternalError(f"etcd error {code.name}: {details}")


class EtcdClient:
    def __init__(self, endpoints: Sequence[str], *, timeout: float = 10.0, tls: TLSConfig | None = None) -> None:
        self.endpoints = list(endpoints)
        self.timeout = timeout
        target = channel_target(self.endpoints)
        options: list[tuple[str, Any]] = [
            ("grpc.lb_policy_name", "pick_first"),
            ("grpc.keepalive_time_ms", 5000),
            ("grpc.keepalive_timeout_ms", 3000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            ("grpc.max_receive_message_length", 256 * 1024 * 1024),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ]
        # Mutual TLS, as kube-apiserver's --etcd-cafile/--etcd-certfile/--etcd-keyfile: etcd trusts only
        # certificates from its own CA, which only the apiserver holds.
        server_name = tls_server_name(self.endpoints) if tls is not None else None
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        self._channel = (
            grpc.aio.secure_channel(target, channel_credentials(tls), options=options)
            if tls is not None
            else grpc.aio.insecure_channel(target, options=options)
        )
        self._kv = rpc.KVStub(self._channel)
        self._watch = rpc.WatchStub(self._channel)
        self._lease = rpc.LeaseStub(self._channel)
        self.transformer: ValueTransformer | None = None  # set by the app with --encryption-provider-config

    def _read(self, raw: rpc.KeyValue) -> KV:
        if self.transformer is None:
            return _kv(raw)
        return KV(raw.key, self.transformer.from_storage(raw.key, raw.value), raw.mod_revision, raw.create_revision)

    def _write(self, key: bytes, value: bytes) -> bytes:
        return value if self.transformer is None else self.transformer.to_storage(key, value)

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, op: str, method: object, request: object) -> object:
        """Run one unary call with a span, a latency metric, the caller's deadline and retries on
        UNAVAILABLE (every request this client sends is safe to repeat, see the module docstring)."""
        timeout = remaining(self.timeout)
        end = time.monotonic() + timeout
        attempt = 0
        # A child of the request's span; not made current (nothing nests inside), which is cheaper.
        span = _tracer.get().start_span(f"etcd.{op}")
        started = time.perf_counter()
        try:
            while True:
                try:
                    return await method(
                        request,
                        timeout=max(0.05, end - time.monotonic()),  # type: ignore[operator]
                        wait_for_ready=True,
                    )
                except grpc.aio.AioRpcError as exc:
                    attempt += 1
                    if exc.code() not in _RETRYABLE or time.monotonic() + 0.1 * attempt >= end:
                        span.set_attribute("error", True)
                        raise map_grpc_error(exc) from None
                    await asyncio.sleep(min(0.1 * attempt, 1.0))
        finally:
            span.end()
            metrics.etcd_latency.get(op).observe(time.perf_counter() - started)

    async def get(self, key: bytes, *, revision: int = 0) -> tuple[KV | None, int]:
        resp = await self._call("get", self._kv.Range, rpc.RangeRequest(key=key, revision=revision))
        kvs = resp.kvs  # type: ignore[attr-defined]
        return (self._read(kvs[0]) if kvs else None), resp.header.revision  # type: ignore[attr-defined]

    async def range(self, start: bytes, end: bytes, *, revision: int = 0, limit: int = 0) -> tuple[list[KV], bool, int]:
        """Keys in [start, end) at `revision` (0: latest). Returns (kvs, more, revision read)."""
        req = rpc.RangeRequest(key=start, range_end=end, revision=revision, limit=limit)
        resp = await self._call("range", self._kv.Range, req)
        return [self._read(k) for k in resp.kvs], bool(resp.more), resp.header.revision  # type: ignore[attr-defined]

    async def range_raw(self, start: bytes, end: bytes) -> list[tuple[bytes, bytes, int]]:
        """(key, value as stored, mod revision) in [start, end): what encryption's rewrite inspects."""
        resp = await self._call("range", self._kv.Range, rpc.RangeRequest(key=start, range_end=end))
        return [(bytes(k.key), bytes(k.value), int(k.mod_revision)) for k in resp.kvs]  # type: ignore[attr-defined]

    async def current_revision(self) -> int:
        resp = await self._call(
            "revision", self._kv.Range, rpc.RangeRequest(key=b"\0", range_end=b"\0", count_only=True, limit=1)
        )
        return int(resp.header.revision)  # type: ignore[attr-defined]

    async def _txn(
        self, op: str, key: bytes, compare: rpc.Compare, success: rpc.RequestOp, written: bytes | None
    ) -> int:
        req = rpc.TxnRequest(
            compare=[compare],
            success=[success],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=key))],
        )
        resp = await self._call(op, self._kv.Txn, req)
        if resp.succeeded:  # type: ignore[attr-defined]
            return int(resp.header.revision)  # type: ignore[attr-defined]
        kvs = resp.responses[0].response_range.kvs  # type: ignore[attr-defined]
        current = self._read(kvs[0]) if kvs else None
        if written is not None and current is not None and current.value == written:
            return current.mod_revision  # our own earlier attempt landed (retry after a lost reply)
        raise CompareFailed(current)

    async def create(self, key: bytes, value: bytes, *, lease: int = 0) -> int:
        cmp = rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0)
        put = rpc.PutRequest(key=key, value=self._write(key, value), lease=lease)
        return await self._txn("create", key, cmp, rpc.RequestOp(request_put=put), value)

    async def update(self, key: bytes, value: bytes, mod_revision: int, *, counter: bool = False) -> int:
        """`counter`: concurrent writers may produce the very same bytes (two creates charging a quota from
        the same usage), so finding `value` stored is no proof that this write landed: always CompareFailed."""
        cmp = rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=mod_revision)
        # ignore_lease keeps whatever lease the key has (an Event's TTL survives its count updates).
        put = rpc.PutRequest(key=key, value=self._write(key, value), ignore_lease=True)
        return await self._txn("update", key, cmp, rpc.RequestOp(request_put=put), None if counter else value)

    async def delete(self, key: bytes, mod_revision: int) -> int:
        cmp = rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=mod_revision)
        op = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key))
        try:
            return await self._txn("delete", key, cmp, op, None)
        except CompareFailed as exc:
            if exc.current is None:
                raise  # already gone (perhaps by our own lost-reply attempt): caller reports NotFound
            raise

    async def grant_lease(self, ttl: int) -> int:
        resp = await self._call("lease_grant", self._lease.LeaseGrant, rpc.LeaseGrantRequest(TTL=ttl))
        return int(resp.ID)  # type: ignore[attr-defined]

    async def revoke_lease(self, lease: int) -> None:
        """Revoke `lease`, deleting the keys still attached to it; an unknown (expired) lease is no error."""
        try:
            await self._call("lease_revoke", self._lease.LeaseRevoke, rpc.LeaseRevokeRequest(ID=lease))
        except errors.InternalError as exc:
            if "lease not found" not in str(exc):
                raise

    async def put(self, key: bytes, value: bytes, *, lease: int = 0) -> int:
        """Write `key` whatever it holds (for keys one writer owns, e.g. an apiserver's master lease)."""
        put = rpc.PutRequest(key=key, value=self._write(key, value), lease=lease)
        resp = await self._call("put", self._kv.Put, put)
        return int(resp.header.revision)  # type: ignore[attr-defined]

    async def delete_key(self, key: bytes) -> int:
        """Delete `key` unconditionally; returns how many keys went (0 or 1)."""
        resp = await self._call("delete", self._kv.DeleteRange, rpc.DeleteRangeRequest(key=key))
        return int(resp.deleted)  # type: ignore[attr-defined]

    async def compact(self, revision: int) -> None:
        await self._call("compact", self._kv.Compact, rpc.CompactionRequest(revision=revision, physical=True))

    async def watch(self, prefix: bytes, start_revision: int) -> AsyncIterator[rpc.WatchResponse]:
        """Yield raw WatchResponses for `prefix` from `start_revision`. Ends by raising on any stream
        error; a compacted start revision raises Expired. The caller resumes.

        Progress is only taken from etcd's own periodic notifications (sent to synced watchers). Explicit
        WatchProgressRequests are NOT used: before etcd 3.5.8 they are answered even while the watcher
        is still catching up, and a revision that runs ahead of undelivered events would lose them."""
        call = self._watch.Watch(metadata=(("hasleader", "true"),), wait_for_ready=True)
        create = rpc.WatchCreateRequest(
            key=prefix, range_end=prefix_end(prefix), start_revision=start_revision, prev_kv=True,
            progress_notify=True,
        )  # fmt: skip
        try:
            await call.write(rpc.WatchRequest(create_request=create))
            while True:
                resp = await call.read()
                if resp is grpc.aio.EOF:
                    raise errors.Unavailable("etcd closed the watch stream")
                if resp.compact_revision:
                    raise errors.Expired(
                        f"revision {start_revision} has been compacted (oldest kept: {resp.compact_revision})"
                    )
                if resp.canceled:
                    raise errors.Unavailable(f"etcd cancelled the watch: {resp.cancel_reason}")
                if self.transformer is not None:
                    for ev in resp.events:
                        if ev.kv.value:
                            ev.kv.value = self.transformer.from_storage(ev.kv.key, ev.kv.value)
                        if ev.prev_kv.value:
                            ev.prev_kv.value = self.transformer.from_storage(ev.prev_kv.key, ev.prev_kv.value)
                yield resp
        except grpc.aio.AioRpcError as exc:
            raise map_grpc_error(exc) from None
        finally:
            call.cancel()
