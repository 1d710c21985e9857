"""ImageService: ListImages, ImageStatus, PullImage (registry hosts from images/hosts.py), RemoveImage, ImageFsInfo."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.cri.runtime.v1 import api_pb2_grpc
from skiff_common.errors import (
    FailedPrecondition,
    FieldError,
    Invalid,
    NotFound,
    Unauthenticated,
    Unavailable,
)

from skiff_runtime.images import registry
from skiff_runtime.images.blobs import DigestMismatch
from skiff_runtime.images.hosts import HostsConfigError, resolve_hosts
from skiff_runtime.images.importer import ImportError_
from skiff_runtime.images.reference import ReferenceError, is_image_id, parse
from skiff_runtime.images.registry import Credentials
from skiff_runtime.images.snapshots import LayerMismatch
from skiff_runtime.images.store import ImageRecord
from skiff_runtime.runtime import Runtime
from skiff_runtime.server import convert


class ImageService(api_pb2_grpc.ImageServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def _resolve(self, spec: cri.ImageSpec, field: str) -> ImageRecord | None:
        if not spec.image:
            raise Invalid("image spec is invalid", [FieldError(field, "Required value")])
        try:
            return self.runtime.images.resolve(spec.image)
        except ReferenceError as err:
            raise Invalid("image spec is invalid", [FieldError(field, "Invalid value", str(err))]) from None

    async def ListImages(self, request: cri.ListImagesRequest, context: Any) -> cri.ListImagesResponse:
        if request.filter.image.image:
            found = self._resolve(request.filter.image, "filter.image.image")
            records = [found] if found else []
        else:
            records = self.runtime.images.list()
        return cri.ListImagesResponse(images=[convert.image(r) for r in records])

    async def ImageStatus(self, request: cri.ImageStatusRequest, context: Any) -> cri.ImageStatusResponse:
        record = self._resolve(request.image, "image.image")
        if record is None:
            return cri.ImageStatusResponse()
        response = cri.ImageStatusResponse(image=convert.image(record))
        if request.verbose:
            response.info["info"] = json.dumps(
                {
                    "manifestDigest": record.manifest_digest,
                    "config": dataclasses.asdict(record.config),
                    "chainIDs": record.chain_ids,
                }
            )
        return response

    async def PullImage(self, request: cri.PullImageRequest, context: Any) -> cri.PullImageResponse:
        """An image already in the store is returned as is (imported images need no registry; a present
        tag is not refreshed); otherwise it is pulled from its registry."""
        record = self._resolve(request.image, "image.image")
        if record is not None:
            return cri.PullImageResponse(image_ref=record.id)
        if is_image_id(request.image.image):
            raise NotFound(f"image {request.image.image} is not present; an image ID cannot be pulled")
        ref = parse(request.image.image)
        auth = request.auth
        credentials = Credentials.from_auth(auth.username, auth.password, auth.auth, auth.registry_token)
        config = self.runtime.config
        try:
            hosts = resolve_hosts(ref.domain, config.registry_config_dir, config.insecure_registries)
        except HostsConfigError as err:
            raise FailedPrecondition(f"pulling {ref}: registry configuration: {err}") from None
        try:
            record = await asyncio.to_thread(
                registry.pull, self.runtime.importer, ref, credentials=credentials, hosts=hosts
            )
        except registry.RegistryError as err:
            if err.unauthorized:
                raise Unauthenticated(f"pulling {ref}: {err}") from None
            if err.not_found:
                raise NotFound(f"pulling {ref}: {err}") from None
            raise Unavailable(f"pulling {ref}: {err}") from None
        except (ImportError_, DigestMismatch, LayerMismatch) as err:
            raise Unavailable(f"pulling {ref}: the registry sent a broken image: {err}") from None
        return cri.PullImageResponse(image_ref=record.id)

    async def RemoveImage(self, request: cri.RemoveImageRequest, context: Any) -> cri.RemoveImageResponse:
        record = self._resolve(request.image, "image.image")
        if record is None:
            return cri.RemoveImageResponse()  # idempotent
        users = self.runtime.image_in_use(record.id)
        if users:
            raise FailedPrecondition(f"image {record.id} is in use by container(s) {', '.join(u[:13] for u in users)}")
        self.runtime.images.remove(record.id)
        self._collect_garbage()
        return cri.RemoveImageResponse()

    def _collect_garbage(self) -> None:
        """Delete blobs and layer snapshots no remaining image refers to."""
        keep_blobs: set[str] = set()
        keep_layers: set[str] = set()
        for image in self.runtime.images.list():
            keep_blobs |= {image.id, image.manifest_digest, *(layer.digest for layer in image.layers)}
            keep_layers |= set(image.chain_ids)
        for digest in self.runtime.blobs.digests():
            if digest not in keep_blobs:
                self.runtime.blobs.delete(digest)
        for chain in self.runtime.snapshots.layer_ids():
            if chain not in keep_layers:
                self.runtime.snapshots.remove_layer(chain)

    async def ImageFsInfo(self, request: cri.ImageFsInfoRequest, context: Any) -> cri.ImageFsInfoResponse:
        used, inodes = self.runtime.blobs.usage()
        for dirpath, dirnames, filenames in os.walk(self.runtime.snapshots.layers):
            for name in filenames + dirnames:
                try:
                    used += os.lstat(os.path.join(dirpath, name)).st_size
                    inodes += 1
                except FileNotFoundError:
                    pass
        usage = cri.FilesystemUsage(
            timestamp=time.time_ns(),
            fs_id=cri.FilesystemIdentifier(mountpoint=self.runtime.config.state_root),
            used_bytes=cri.UInt64Value(value=used),
            inodes_used=cri.UInt64Value(value=inodes),
        )
        return cri.ImageFsInfoResponse(image_filesystems=[usage])
