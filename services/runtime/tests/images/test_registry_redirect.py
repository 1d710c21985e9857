"""Blob redirects (what Docker Hub and S3-backed registries do): followed, and the registry's
Authorization header is not sent to the other host. docker-registry's filesystem storage never redirects,
so two tiny HTTP servers on 127.0.0.1 play registry and blob storage."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from skiff_runtime.images.blobs import BlobStore, DigestMismatch
from skiff_runtime.images.hosts import RegistryHost
from skiff_runtime.images.reference import parse
from skiff_runtime.images.registry import Credentials, RegistryClient

BLOB = b"layer bytes " * 1000
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


class Server:
    def __init__(self, respond: object) -> None:
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.seen.append(dict(self.headers))
                code, headers, body = respond(self.path)  # type: ignore[operator]
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    storage = Server(lambda path: (200, {}, BLOB))
    registry = Server(lambda path: (307, {"Location": f"http://{storage.host}/bucket/{DIGEST}"}, b""))
    yield registry, storage
    registry.close()
    storage.close()


def test_redirected_blob_download_drops_authorization(tmp_path: Path, servers: tuple[Server, Server]) -> None:
    registry, storage = servers
    host = RegistryHost(api_root=f"http://{registry.host}/v2")
    client = RegistryClient(host, parse(f"{registry.host}/r:1"), Credentials(registry_token="secret"))
    blobs = BlobStore(tmp_path)
    client.blob(DIGEST, len(BLOB), blobs)
    assert blobs.read(DIGEST) == BLOB
    assert registry.seen[0]["Authorization"] == "Bearer secret"
    assert "Authorization" not in storage.seen[0]


def test_a_blob_longer_than_its_descriptor_is_cut_off(tmp_path: Path, servers: tuple[Server, Server]) -> None:
    registry, _ = servers
    client = RegistryClient(RegistryHost(api_root=f"http://{registry.host}/v2"), parse(f"{registry.host}/r:1"))
    blobs = BlobStore(tmp_path)
    with pytest.raises(DigestMismatch, match="more than the announced 100 bytes"):
        client.blob(DIGEST, 100, blobs)
    assert not blobs.exists(DIGEST) and not list((tmp_path / "ingest").iterdir())
