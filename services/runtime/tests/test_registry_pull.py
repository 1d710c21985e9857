"""PullImage from an OCI distribution registry: a tiny v2 registry on 127.0.0.1 serving the busybox layout,
with bearer-token auth (token endpoint wants basic credentials) and blob redirects, like Docker Hub."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from criharness import cri_server
from skiff.cri.runtime.v1 import api_pb2 as cri

TOKEN = "token-for-tests"
USER, PASSWORD = "skiff", "s3cret"


class FakeRegistry:
    def __init__(self, layout: Path) -> None:
        self.blobs = layout / "blobs" / "sha256"
        index = json.loads((layout / "index.json").read_text())
        self.manifest_digest = index["manifests"][0]["digest"]
        self.index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [{**index["manifests"][0], "annotations": {}}],
            }
        ).encode()
        self.corrupt: set[str] = set()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.startswith("/token"):
                    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {basic}":
                        return self._send(401)
                    return self._send(200, json.dumps({"token": TOKEN}).encode())
                if self.path.startswith("/storage/"):  # where blob downloads are redirected to
                    assert "Authorization" not in self.headers or self.headers["Host"] == registry.host
                    digest = self.path.rsplit("/", 1)[1]
                    data = (registry.blobs / digest.split(":")[1]).read_bytes()
                    if digest in registry.corrupt:
                        data = data[:-4] + b"XXXX"
                    return self._send(200, data)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    realm = f"http://{registry.host}/token"
                    return self._send(
                        401,
                        headers={
                            "WWW-Authenticate": f'Bearer realm="{realm}",service="fake",'
                            f'scope="repository:library/busybox:pull"'
                        },
                    )
                parts = self.path.split("/")  # /v2/library/busybox/{manifests|blobs}/<ref>
                if parts[:4] != ["", "v2", "library", "busybox"]:
                    return self._send(404)
                kind, ref = parts[4], parts[5]
                if kind == "manifests":
                    if ref == "multi":
                        return self._send(
                            200, registry.index, {"Content-Type": "application/vnd.oci.image.index.v1+json"}
                        )
                    if ref in ("latest", registry.manifest_digest):
                        body = (registry.blobs / registry.manifest_digest.split(":")[1]).read_bytes()
                        return self._send(
                            200, body, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
                        )
                    return self._send(404)
                if kind == "blobs":
                    return self._send(307, headers={"Location": f"http://{registry.host}/storage/{ref}"})
                return self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry(busybox_layout: Path) -> Iterator[FakeRegistry]:
    reg = FakeRegistry(busybox_layout)
    yield reg
    reg.close()


def _pull(ref: str, user: str = USER, password: str = PASSWORD) -> cri.PullImageRequest:
    return cri.PullImageRequest(
        image=cri.ImageSpec(image=ref), auth=cri.AuthConfig(username=user, password=password)
    )


async def test_pull_with_bearer_auth_and_index(tmp_path: Path, registry: FakeRegistry) -> None:
    async with cri_server(tmp_path) as h:
        h.runtime.config.insecure_registries = [registry.host]
        pulled = await h.image_stub.PullImage(_pull(f"{registry.host}/library/busybox:multi"))
        image = (
            await h.image_stub.ImageStatus(
                cri.ImageStatusRequest(image=cri.ImageSpec(image=f"{registry.host}/library/busybox:multi"))
            )
        ).image
        assert image.id == pulled.image_ref
        assert list(image.repo_digests) == [f"{registry.host}/library/busybox@{registry.manifest_digest}"]
        # by digest, the same image (and nothing downloaded twice: the blobs are already there)
        again = await h.image_stub.PullImage(
            _pull(f"{registry.host}/library/busybox@{registry.manifest_digest}")
        )
        assert again.image_ref == pulled.image_ref
        record = h.runtime.images.get_by_id(pulled.image_ref)
        assert record is not None and h.runtime.snapshots.has_layer(record.chain_ids[0])


async def test_pull_errors(tmp_path: Path, registry: FakeRegistry) -> None:
    async with cri_server(tmp_path) as h:
        h.runtime.config.insecure_registries = [registry.host]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(_pull(f"{registry.host}/library/busybox:latest", password="wrong"))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(_pull(f"{registry.host}/library/busybox:nope"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        manifest = json.loads((registry.blobs / registry.manifest_digest.split(":")[1]).read_text())
        registry.corrupt.add(manifest["layers"][0]["digest"])
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(_pull(f"{registry.host}/library/busybox:latest"))
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE and "digest" in (err.value.details() or "")
        assert (await h.image_stub.ListImages(cri.ListImagesRequest())).images == []
        # not listed as insecure: HTTPS is required, which the plain-HTTP fake cannot speak
        h.runtime.config.insecure_registries = []
        registry.corrupt.clear()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(_pull(f"{registry.host}/library/busybox:latest"))
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
