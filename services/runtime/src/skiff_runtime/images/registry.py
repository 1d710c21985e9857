"""Pull images from an OCI distribution (Docker Registry v2) registry.

The flow is the standard one: GET the manifest by tag or digest (accepting OCI and Docker media types),
resolve an index to the host's platform, then GET the config and each layer blob. Every byte is checked
against its digest before it is trusted: the manifest against the digest it was asked by (or the one
recorded as repo digest), blobs by the content store as they stream in. The image is then registered
through the same code as an import, so the layers are unpacked once and the diff_ids verified.

Authentication follows the registry's 401 challenge: `Bearer realm=..,service=..,scope=..` gets a token
from the realm (with basic credentials if we have some), `Basic` sends the credentials directly. A
registry_token from the CRI AuthConfig is used as a bearer token as is. The Authorization header is
dropped when a blob download is redirected to another host (blob storage must not see registry tokens).

Plain HTTP is used only for hosts listed as insecure registries (e.g. `localhost:5000`); everything else
is HTTPS. docker.io is served by registry-1.docker.io.

The client is synchronous (urllib, no extra dependency) and runs in a worker thread.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from skiff_runtime.images.blobs import BlobStore, sha256_hex
from skiff_runtime.images.importer import DOCKER_LIST, OCI_INDEX, Importer, pick_platform
from skiff_runtime.images.reference import DEFAULT_DOMAIN, Reference
from skiff_runtime.images.store import ImageRecord

ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
MAX_MANIFEST = 4 * 1024 * 1024
TIMEOUT = 60.0


class RegistryError(RuntimeError):
    """The registry refused or failed; `unauthorized` tells credentials apart from other failures."""

    def __init__(self, message: str, *, unauthorized: bool = False, not_found: bool = False) -> None:
        super().__init__(message)
        self.unauthorized = unauthorized
        self.not_found = not_found


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    registry_token: str = ""

    @classmethod
    def from_auth(cls, username: str, password: str, auth: str, registry_token: str) -> Credentials:
        if auth and not username:
            decoded = base64.b64decode(auth).decode(errors="replace")
            username, _, password = decoded.partition(":")
        return cls(username=username, password=password, registry_token=registry_token)


class _NoAuthOnRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if (
            new is not None
            and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc
        ):
            new.remove_header("Authorization")
        return new


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


@dataclass
class RegistryClient:
    ref: Reference
    insecure: bool = False
    credentials: Credentials = field(default_factory=Credentials)
    _authorization: str = ""

    def __post_init__(self) -> None:
        host = "registry-1.docker.io" if self.ref.domain == DEFAULT_DOMAIN else self.ref.domain
        self.base = f"{'http' if self.insecure else 'https'}://{host}/v2/{self.ref.path}"
        self._opener = urllib.request.build_opener(_NoAuthOnRedirect())
        if self.credentials.registry_token:
            self._authorization = f"Bearer {self.credentials.registry_token}"

    def _open(self, url: str, accept: str = "") -> Any:
        for attempt in range(2):
            request = urllib.request.Request(url)
            if accept:
                request.add_header("Accept", accept)
            if self._authorization:
                request.add_header("Authorization", self._authorization)
            try:
                return self._opener.open(request, timeout=TIMEOUT)
            except urllib.error.HTTPError as err:
                if err.code == 401 and attempt == 0:
                    self._authenticate(err.headers.get("WWW-Authenticate", ""))
                    continue
                if err.code in (401, 403):
                    raise RegistryError(f"{url}: access denied ({err.code})", unauthorized=True) from None
                if err.code == 404:
                    raise RegistryError(f"{url}: not found", not_found=True) from None
                raise RegistryError(f"{url}: HTTP {err.code} {err.reason}") from None
            except (urllib.error.URLError, OSError) as err:
                raise RegistryError(f"{url}: {getattr(err, 'reason', err)}") from None
        raise RegistryError(f"{url}: authentication failed", unauthorized=True)

    def _authenticate(self, header: str) -> None:
        scheme, params = _challenge(header)
        creds = self.credentials
        basic = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        if scheme == "basic":
            if not creds.username:
                raise RegistryError("registry requires basic credentials", unauthorized=True)
            self._authorization = f"Basic {basic}"
            return
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"unsupported registry auth challenge {header!r}", unauthorized=True)
        query = {
            k: v
            for k, v in (
                ("service", params.get("service", "")),
                ("scope", params.get("scope", f"repository:{self.ref.path}:pull")),
            )
            if v
        }
        request = urllib.request.Request(f"{params['realm']}?{urllib.parse.urlencode(query)}")
        if creds.username:
            request.add_header("Authorization", f"Basic {basic}")
        try:
            with self._opener.open(request, timeout=TIMEOUT) as response:
                body = json.loads(response.read(MAX_MANIFEST))
        except urllib.error.HTTPError as err:
            raise RegistryError(f"token endpoint refused: HTTP {err.code}", unauthorized=True) from None
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as err:
            raise RegistryError(f"token endpoint failed: {err}") from None
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError("token endpoint returned no token", unauthorized=True)
        self._authorization = f"Bearer {token}"

    def manifest(self, reference: str) -> tuple[bytes, str]:
        """(body, media type); the body is verified when `reference` is a digest."""
        with self._open(f"{self.base}/manifests/{reference}", ACCEPT) as response:
            body = response.read(MAX_MANIFEST + 1)
            media_type = response.headers.get("Content-Type", "").split(";")[0]
        if len(body) > MAX_MANIFEST:
            raise RegistryError(f"manifest {reference} is larger than {MAX_MANIFEST} bytes")
        if reference.startswith("sha256:") and f"sha256:{sha256_hex(body)}" != reference:
            raise RegistryError(f"manifest {reference}: content does not match its digest")
        return body, json.loads(body).get("mediaType") or media_type

    def blob(self, digest: str, blobs: BlobStore) -> None:
        if blobs.exists(digest):
            return
        with self._open(f"{self.base}/blobs/{digest}") as response:
            chunks: Iterator[bytes] = iter(lambda: response.read(1 << 20), b"")
            blobs.put_stream(chunks, expected=digest)


def pull(importer: Importer, ref: Reference, *, insecure: bool, credentials: Credentials) -> ImageRecord:
    client = RegistryClient(ref, insecure=insecure, credentials=credentials)
    body, media_type = client.manifest(ref.digest or ref.tag)
    if media_type in (OCI_INDEX, DOCKER_LIST):
        desc = pick_platform(json.loads(body).get("manifests") or [])
        body, media_type = client.manifest(desc["digest"])
    manifest_digest = importer.blobs.put(body)
    manifest = json.loads(body)
    client.blob(manifest["config"]["digest"], importer.blobs)
    for layer in manifest.get("layers") or []:
        client.blob(layer["digest"], importer.blobs)
    tag = str(ref) if ref.tag else None
    return importer.finish(
        manifest_digest, manifest, manifest["config"]["digest"], tag, [f"{ref.name}@{manifest_digest}"]
    )
