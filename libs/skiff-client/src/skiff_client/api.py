"""ApiClient: typed asyncio verbs over the generic ApiServer gRPC service.

The wire speaks ``google.protobuf.Any`` and plural resource names; callers speak message classes
(``Pod``) or resource names (``"pods"``) and get typed messages back. The kind registry
(``skiff_common.apimachinery.kinds``) is the single place that maps between them, so this module
knows nothing about individual kinds.

Every ``grpc.RpcError`` is re-raised as the matching ``skiff_common.errors`` exception
(``NotFound``, ``Conflict``, ``Expired`` ...), so callers never inspect status codes.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

import grpc
from google.protobuf.message import Message
from skiff.api.autoscaling.v1 import scale_pb2
from skiff.api.core.v1 import pod_pb2, references_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc as pb_grpc
from skiff_common import errors
from skiff_common.apimachinery import kinds
from skiff_common.grpcutil import TLSConfig, create_channel

M = TypeVar("M", bound=Message)
T = TypeVar("T")

# Unary calls get a deadline so a wedged apiserver cannot hang a controller forever (watches have none:
# they are long-lived by design and use server-side timeout_seconds instead).
DEFAULT_TIMEOUT = 30.0

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


@dataclass
class ObjectList(Generic[M]):
    items: list[M] = field(default_factory=list)
    resource_version: str = ""
    continue_token: str = ""


@dataclass(frozen=True)
class WatchEvent(Generic[M]):
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: M


def resource_of(cls_or_resource: type[Message] | str) -> str:
    """Plural resource name for a message class or any name the registry knows."""
    if isinstance(cls_or_resource, str):
        return kinds.lookup_resource(cls_or_resource).resource
    return kinds.kind_of(cls_or_resource).resource


class _BearerStub:
    """The ApiServer stub with `authorization: Bearer <token>` on every call: the token is read from
    ``token()`` at each call, so a refreshed token is used from the next call on (client-go's
    bearer-token round tripper). The channel and its client certificate are shared with the stub it
    wraps; the apiserver takes the token as the caller when one is sent."""

    def __init__(self, stub: Any, token: Callable[[], str]) -> None:
        self._stub = stub
        self._token = token

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self._stub, method)

        def with_token(request: Any, **kwargs: Any) -> Any:
            metadata = (*kwargs.pop("metadata", ()), ("authorization", f"Bearer {self._token()}"))
            return call(request, metadata=metadata, **kwargs)

        return with_token


async def _call(coro: Awaitable[T]) -> T:
    try:
        return await coro
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from exc


class ApiClient:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        wait_for_ready: bool = False,
    ) -> None:
        self.channel = channel
        self.timeout = timeout
        # False (the CLI): fail fast when the apiserver is down. True (services): calls wait, within
        # their deadline, for the channel to (re)connect, so an apiserver restart is ridden out.
        self.wait_for_ready = wait_for_ready
        self.stub: Any = pb_grpc.ApiServerStub(channel)  # type: ignore[no-untyped-call]  # grpc stubs are unannotated
        self._owns_channel = True

    @classmethod
    def connect(
        cls,
        target: str,
        *,
        tls: TLSConfig | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        wait_for_ready: bool = False,
    ) -> ApiClient:
        return cls(create_channel(target, tls=tls), timeout=timeout, wait_for_ready=wait_for_ready)

    def with_bearer_token(self, token: Callable[[], str]) -> ApiClient:
        """A client over the same channel that acts as the holder of ``token()`` (e.g. a ServiceAccount's
        TokenRequest token), as kube-controller-manager's per-controller clients do. Closing it leaves
        the shared channel open; the client it came from owns it."""
        other = ApiClient(self.channel, timeout=self.timeout, wait_for_ready=self.wait_for_ready)
        other.stub = _BearerStub(self.stub, token)
        other._owns_channel = False
        return other

    async def close(self) -> None:
        if self._owns_channel:
            await self.channel.close()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- reads ------------------------------------------------------------------------------------
    @overload
    async def get(
        self, cls_or_resource: type[M], name: str, namespace: str = "", *, resource_version: str = ""
    ) -> M: ...
    @overload
    async def get(self, cls_or_resource: str, name: str, namespace: str = "", *, resource_version: str = "") -> Any: ...
    async def get(
        self, cls_or_resource: type[M] | str, name: str, namespace: str = "", *, resource_version: str = ""
    ) -> Any:
        req = pb.GetRequest(
            resource=resource_of(cls_or_resource),
            namespace=namespace,
            name=name,
            resource_version=resource_version,
        )
        resp = await _call(self.stub.Get(req, timeout=self.timeout, wait_for_ready=self.wait_for_ready))
        return kinds.unpack(resp.object)

    async def list(
        self,
        cls_or_resource: type[M] | str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
    ) -> ObjectList[M]:
        req = pb.ListRequest(
            resource=resource_of(cls_or_resource),
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
        )
        resp = await _call(self.stub.List(req, timeout=self.timeout, wait_for_ready=self.wait_for_ready))
        return ObjectList(
            items=[kinds.unpack(a) for a in resp.items],  # type: ignore[misc]
            resource_version=resp.metadata.resource_version,
            continue_token=resp.metadata.continue_token,
        )

    async def list_all(
        self,
        cls_or_resource: type[M] | str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 500,
        resource_version: str = "",
    ) -> ObjectList[M]:
        """All pages, following continue tokens; resource_version is that of the first page."""
        out: ObjectList[M] = ObjectList()
        token = ""
        while True:
            page: ObjectList[M] = await self.list(
                cls_or_resource,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=limit,
                continue_token=token,
                resource_version="" if token else resource_version,
            )
            out.items.extend(page.items)
            if not out.resource_version:
                out.resource_version = page.resource_version
            token = page.continue_token
            if not token:
                return out

    async def watch(
        self,
        cls_or_resource: type[M] | str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        allow_bookmarks: bool = True,
        timeout_seconds: int = 0,
    ) -> AsyncIterator[WatchEvent[M]]:
        """Stream changes. Raises ``errors.Expired`` when the resourceVersion is too old."""
        req = pb.WatchRequest(
            resource=resource_of(cls_or_resource),
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            resource_version=resource_version,
            allow_watch_bookmarks=allow_bookmarks,
            timeout_seconds=timeout_seconds,
        )
        call = self.stub.Watch(req, wait_for_ready=self.wait_for_ready)
        try:
            async for resp in call:
                if resp.type == "ERROR":
                    raise _status_error(resp.status)
                yield WatchEvent(resp.type, kinds.unpack(resp.object))  # type: ignore[arg-type]
        except grpc.RpcError as exc:
            raise errors.from_rpc_error(exc) from exc
        finally:
            call.cancel()

    # -- writes -----------------------------------------------------------------------------------
    async def create(self, obj: M, *, dry_run: bool = False) -> M:
        resp = await _call(
            self.stub.Create(
                pb.CreateRequest(object=kinds.pack(obj), dry_run=dry_run),
                timeout=self.timeout,
                wait_for_ready=self.wait_for_ready,
            )
        )
        return kinds.unpack(resp.object)  # type: ignore[return-value]

    async def update(self, obj: M, *, dry_run: bool = False) -> M:
        resp = await _call(
            self.stub.Update(
                pb.UpdateRequest(object=kinds.pack(obj), dry_run=dry_run),
                timeout=self.timeout,
                wait_for_ready=self.wait_for_ready,
            )
        )
        return kinds.unpack(resp.object)  # type: ignore[return-value]

    async def update_status(self, obj: M, *, dry_run: bool = False, subresource: str = "status") -> M:
        """Replace the object's status, or the named subresource ("finalize": a namespace's spec.finalizers,
        "approval": a CSR's Approved/Denied conditions), as REST PUT .../{subresource} does: verb update."""
        req = pb.UpdateStatusRequest(object=kinds.pack(obj), dry_run=dry_run, subresource=subresource)
        resp = await _call(self.stub.UpdateStatus(req, timeout=self.timeout, wait_for_ready=self.wait_for_ready))
        return kinds.unpack(resp.object)  # type: ignore[return-value]

    async def patch(
        self,
        cls_or_resource: type[M] | str,
        name: str,
        namespace: str,
        patch: dict[str, Any] | builtins.list[Any],
        *,
        patch_type: str = "merge",
        subresource: str = "",
        dry_run: bool = False,
    ) -> M:
        if patch_type not in PATCH_TYPES:
            raise errors.BadRequest(f"patch_type: unsupported value {patch_type!r} (use 'merge' or 'json')")
        req = pb.PatchRequest(
            resource=resource_of(cls_or_resource),
            namespace=namespace,
            name=name,
            patch_type=PATCH_TYPES[patch_type],
            patch=json.dumps(patch).encode(),
            subresource=subresource,
            dry_run=dry_run,
        )
        resp = await _call(self.stub.Patch(req, timeout=self.timeout, wait_for_ready=self.wait_for_ready))
        return kinds.unpack(resp.object)  # type: ignore[return-value]

    async def delete(
        self,
        cls_or_resource: type[M] | str,
        name: str,
        namespace: str = "",
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str = "",
        preconditions_uid: str | None = None,
        dry_run: bool = False,
    ) -> M:
        req = pb.DeleteRequest(
            resource=resource_of(cls_or_resource),
            namespace=namespace,
            name=name,
            propagation_policy=propagation_policy,
            dry_run=dry_run,
        )
        if grace_period_seconds is not None:
            req.grace_period_seconds = grace_period_seconds
        if preconditions_uid is not None:
            req.preconditions.uid = preconditions_uid
        resp = await _call(self.stub.Delete(req, timeout=self.timeout, wait_for_ready=self.wait_for_ready))
        return kinds.unpack(resp.object)  # type: ignore[return-value]

    async def bind(self, pod_name: str, namespace: str, node_name: str) -> None:
        binding = pod_pb2.Binding(
            api_version="v1",
            kind="Binding",
            metadata=meta_pb2.ObjectMeta(name=pod_name, namespace=namespace),
            target=references_pb2.ObjectReference(api_version="v1", kind="Node", name=node_name),
        )
        await _call(
            self.stub.Bind(pb.BindRequest(binding=binding), timeout=self.timeout, wait_for_ready=self.wait_for_ready)
        )

    async def get_scale(self, cls_or_resource: type[Message] | str, name: str, namespace: str) -> scale_pb2.Scale:
        req = pb.GetScaleRequest(resource=resource_of(cls_or_resource), namespace=namespace, name=name)
        resp: pb.GetScaleResponse = await _call(
            self.stub.GetScale(req, timeout=self.timeout, wait_for_ready=self.wait_for_ready)
        )
        return resp.scale

    async def update_scale(self, cls_or_resource: type[Message] | str, scale: scale_pb2.Scale) -> scale_pb2.Scale:
        req = pb.UpdateScaleRequest(resource=resource_of(cls_or_resource), scale=scale)
        resp: pb.UpdateScaleResponse = await _call(
            self.stub.UpdateScale(req, timeout=self.timeout, wait_for_ready=self.wait_for_ready)
        )
        return resp.scale

    async def list_resources(self) -> builtins.list[pb.ApiResource]:
        return builtins.list(
            (
                await _call(
                    self.stub.ListResources(
                        pb.ListResourcesRequest(), timeout=self.timeout, wait_for_ready=self.wait_for_ready
                    )
                )
            ).resources
        )


_STATUS_BY_HTTP: dict[int, Callable[[str], errors.SkiffError]] = {
    410: errors.Expired,
    404: errors.NotFound,
    409: errors.Conflict,
    429: errors.TooManyRequests,
    403: errors.Forbidden,
    400: errors.BadRequest,
}


def _status_error(status: meta_pb2.Status) -> errors.SkiffError:
    """An in-stream ERROR event carries a Kubernetes Status (HTTP-style code)."""
    factory = _STATUS_BY_HTTP.get(status.code, errors.InternalError)
    return factory(status.message or status.reason or "watch error")
