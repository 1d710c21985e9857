"""Pull images from an OCI distribution (Docker Registry v2) registry.

The flow is the standard one: GET the manifest by tag or digest (accepting OCI and Docker media types),
resolve an index to the host's platform, then GET the config and each layer blob. Every byte is checked
against its digest before it is trusted: the manifest against the digest it was asked by (by tag: against
the registry's Docker-Content-Digest), blobs by the content store while they stream in (with the size from
their descriptor as an upper bound, so a hostile registry cannot fill the disk). The image is registered
through the same code as an import, so layers are unpacked once and their diff_ids verified.

Endpoints come from the registry hosts configuration (hosts.py, containerd's hosts.toml): mirrors first,
the registry itself last; a tag is resolved only by hosts with the `resolve` capability, content by digest
may come from any `pull` host. Plain HTTP only for `http://` endpoints, i.e. registries configured as
insecure or mirrors written so; everything else is HTTPS with certificate verification unless the host
says `skip_verify` (an extra `ca` bundle may be given instead).

Authentication follows the registry's 401 challenge: `Bearer realm=..,service=..,scope=..` gets a token
from the realm (with basic credentials if we have some), `Basic` sends the credentials directly. A
registry_token from the CRI AuthConfig is used as a bearer token as is. The Authorization header is
dropped when a blob download is redirected to another host (blob storage must not see registry tokens).

Concurrent pulls of the same reference share one pull, and concurrent downloads of one blob share one
download (flight.py), so N PullImage calls for a new image fetch each blob once.

The client is synchronous (urllib, no extra dependency) and runs in a worker thread.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.client import HTTPMessage
from typing import IO, Any, TypeVar

from skiff_runtime.images.blobs import BlobStore, DigestMismatch, sha256_hex
from skiff_runtime.images.flight import SingleFlight
from skiff_runtime.images.hosts import RegistryHost, resolve_hosts
from skiff_runtime.images.importer import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Importer,
    pick_platform,
)
from skiff_runtime.images.reference import Reference
from skiff_runtime.images.store import ImageRecord

T = TypeVar("T")

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
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _ssl_context(host: RegistryHost) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for cafile in host.ca:
        try:
            context.load_verify_locations(cafile=cafile)
        except (OSError, ssl.SSLError) as err:
            raise RegistryError(f"{host.api_root}: cannot load CA bundle {cafile}: {err}") from None
    if host.skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RegistryClient:
    """One repository on one endpoint; keeps the token it was given by that endpoint's auth challenge."""

    def __init__(self, host: RegistryHost, ref: Reference, credentials: Credentials | None = None) -> None:
        self.host = host
        self.ref = ref
        self.credentials = credentials or Credentials()
        self.base = f"{host.api_root}/{ref.path}"
        handlers: list[urllib.request.BaseHandler] = [_NoAuthOnRedirect()]
        if not host.plain_http:
            handlers.append(urllib.request.HTTPSHandler(context=_ssl_context(host)))
        self._opener = urllib.request.build_opener(*handlers)
        self._authorization = ""
        if self.credentials.registry_token:
            self._authorization = f"Bearer {self.credentials.registry_token}"

    def _open(self, url: str, accept: str = "") -> Any:
        for attempt in range(2):
            request = urllib.request.Request(url)
            for name, value in self.host.headers:
                request.add_header(name, value)
            if accept:
                request.add_header("Accept", accept)
            if self._authorization:
                request.add_header("Authorization", self._authorization)
            try:
                return self._opener.open(request, timeout=TIMEOUT)
            except urllib.error.HTTPError as err:
                err.close()
                if err.code == 401 and attempt == 0:
                    self._authenticate(err.headers.get("WWW-Authenticate", ""))
                    continue
                if err.code in (401, 403):
                    raise RegistryError(
                        f"{url}: access denied ({err.code}): wrong or missing credentials", unauthorized=True
                    ) from None
                if err.code == 404:
                    raise RegistryError(f"{url}: not found", not_found=True) from None
                raise RegistryError(f"{url}: HTTP {err.code} {err.reason}") from None
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise RegistryError(f"{url}: {reason}") from None
        raise RegistryError(f"{url}: authentication failed", unauthorized=True)

    def _authenticate(self, header: str) -> None:
        scheme, params = _challenge(header)
        creds = self.credentials
        basic = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        if scheme == "basic":
            if not creds.username:
                raise RegistryError(
                    f"{self.host.netloc} requires a username and password (basic auth)", unauthorized=True
                )
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

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest), verified against `reference` if it is a digest, else against the
        registry's Docker-Content-Digest header when it sent one."""
        with self._open(f"{self.base}/manifests/{reference}", ACCEPT) as response:
            body = response.read(MAX_MANIFEST + 1)
            media_type = response.headers.get("Content-Type", "").split(";")[0]
            announced = response.headers.get("Docker-Content-Digest", "")
        if len(body) > MAX_MANIFEST:
            raise RegistryError(f"manifest {reference} is larger than {MAX_MANIFEST} bytes")
        digest = f"sha256:{sha256_hex(body)}"
        expected = reference if reference.startswith("sha256:") else announced
        if expected.startswith("sha256:") and digest != expected:
            raise DigestMismatch(f"manifest {reference}: content has digest {digest}, expected {expected}")
        try:
            parsed = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DigestMismatch(f"manifest {reference} is not JSON: {err}") from None
        return body, parsed.get("mediaType") or media_type, digest

    def blob(self, digest: str, size: int | None, blobs: BlobStore) -> None:
        """Stream a blob into the store; it is verified (size and digest) before it becomes visible."""
        with self._open(f"{self.base}/blobs/{digest}") as response:
            chunks: Iterator[bytes] = iter(lambda: response.read(1 << 20), b"")
            blobs.put_stream(chunks, expected=digest, expected_size=size)


_FLIGHT = SingleFlight()


def _first(clients: list[RegistryClient], what: str, fn: Callable[[RegistryClient], T]) -> T:
    """fn on the first endpoint that succeeds (mirrors before the server), like containerd's resolver."""
    if not clients:
        raise RegistryError(f"no configured registry host may {what}")
    errors: list[Exception] = []
    for client in clients:
        try:
            return fn(client)
        except (RegistryError, DigestMismatch) as err:
            errors.append(err)
    if len(errors) == 1:
        raise errors[0]
    raise RegistryError(
        "; ".join(f"{c.host.netloc}: {e}" for c, e in zip(clients, errors, strict=True)),
        unauthorized=any(getattr(e, "unauthorized", False) for e in errors),
        not_found=all(getattr(e, "not_found", False) for e in errors),
    )


def pull(
    importer: Importer,
    ref: Reference,
    *,
    insecure: bool = False,
    credentials: Credentials | None = None,
    hosts: Sequence[RegistryHost] | None = None,
) -> ImageRecord:
    """Pull `ref` through `hosts` (default: the registry itself, plain HTTP if `insecure`).

    Concurrent pulls of the same reference with the same credentials share one pull."""
    credentials = credentials or Credentials()
    endpoints = list(hosts) if hosts else resolve_hosts(ref.domain, None, [ref.domain] if insecure else [])
    key = ("pull", str(importer.blobs.root), str(ref), credentials, tuple(endpoints))
    return _FLIGHT.do(key, lambda: _pull(importer, ref, endpoints, credentials))


def _pull(importer: Importer, ref: Reference, endpoints: list[RegistryHost], credentials: Credentials) -> ImageRecord:
    clients = [RegistryClient(host, ref, credentials) for host in endpoints]
    fetchers = [c for c in clients if c.host.can("pull")]
    if ref.digest:  # content addressed: any host that may pull can serve it
        body, media_type, top_digest = _first(fetchers, "pull", lambda c: c.manifest(ref.digest))
    else:
        resolvers = [c for c in clients if c.host.can("resolve")]
        body, media_type, top_digest = _first(resolvers, "resolve", lambda c: c.manifest(ref.tag))
    manifest_body = body
    if media_type in (OCI_INDEX, DOCKER_LIST):
        desc = pick_platform(json.loads(body).get("manifests") or [])
        manifest_body, media_type, _ = _first(fetchers, "pull", lambda c: c.manifest(desc["digest"]))
    manifest = json.loads(manifest_body)
    if media_type not in (OCI_MANIFEST, DOCKER_MANIFEST) or not isinstance(manifest.get("config"), dict):
        raise RegistryError(f"{ref}: unsupported manifest type {media_type or 'unknown'!r}")
    manifest_digest = importer.blobs.put(manifest_body)
    for desc in [manifest["config"], *(manifest.get("layers") or [])]:
        _fetch_blob(importer.blobs, fetchers, desc)
    tag = f"{ref.name}:{ref.tag}" if ref.tag else None
    # the repo digest is what was resolved (the index's digest for a multi-platform image), as containerd
    # records it: pulling `name@<that digest>` later finds this image without asking the registry.
    config_digest = manifest["config"]["digest"]
    return importer.finish(manifest_digest, manifest, config_digest, tag, [f"{ref.name}@{top_digest}"])


def _fetch_blob(blobs: BlobStore, fetchers: list[RegistryClient], desc: Any) -> None:
    if not isinstance(desc, dict):
        raise DigestMismatch(f"bad descriptor in manifest: {desc!r}")
    digest, size = desc.get("digest", ""), desc.get("size")
    if not isinstance(digest, str) or not isinstance(size, int | None):
        raise DigestMismatch(f"bad descriptor in manifest: {desc!r}")
    if blobs.exists(digest):
        return

    def fetch() -> None:
        if not blobs.exists(digest):  # a flight that just finished may have stored it
            _first(fetchers, "pull", lambda c: c.blob(digest, size, blobs))

    _FLIGHT.do(("blob", str(blobs.root), digest), fetch)
