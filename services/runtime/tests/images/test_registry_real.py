"""The registry client against a real registry (Debian's docker-registry), filled by skopeo.

Pull by tag and by digest, OCI and Docker schema2 manifests, a multi-platform index, digest verification
(a blob corrupted in the registry's storage), basic auth, and plain HTTP vs TLS. These call
`registry.pull` on a temp content store directly; the CRI path is covered in test_registry_pull.py.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path

import pytest
from realregistry import RealRegistry, free_port, index_of
from skiff_runtime.images import registry as client
from skiff_runtime.images.blobs import BlobStore, DigestMismatch
from skiff_runtime.images.hosts import RegistryHost, resolve_hosts
from skiff_runtime.images.importer import Importer
from skiff_runtime.images.reference import parse
from skiff_runtime.images.snapshots import Snapshotter
from skiff_runtime.images.store import ImageStore
from tokenserver import TokenServer

# layers are unpacked with their owners (chown) and the CRI tests create namespaces
pytestmark = pytest.mark.root
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
OTHER_ARCH = "arm64" if HOST_ARCH != "arm64" else "amd64"


def importer(tmp: Path) -> Importer:
    root = tmp / "state"
    return Importer(BlobStore(root), Snapshotter(root), ImageStore(root))


def http_hosts(reg: RealRegistry) -> list[RegistryHost]:
    return resolve_hosts(reg.host, None, [reg.host])


def digest_of(body: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("fmt,media_type", [("oci", OCI_MANIFEST), ("v2s2", DOCKER_MANIFEST)])
def test_pull_by_tag_then_by_digest(
    tmp_path: Path, start_reg: Callable[..., RealRegistry], busybox_layout: Path, fmt: str, media_type: str
) -> None:
    reg = start_reg()
    reg.push(busybox_layout, f"library/busybox:{fmt}", fmt=fmt)
    body = reg.manifest("library/busybox", fmt, media_type)
    assert json.loads(body)["mediaType"] == media_type
    imp = importer(tmp_path)
    record = client.pull(imp, parse(f"{reg.host}/library/busybox:{fmt}"), hosts=http_hosts(reg))
    assert record.manifest_digest == digest_of(body)
    assert record.repo_tags == [f"{reg.host}/library/busybox:{fmt}"]
    assert record.repo_digests == [f"{reg.host}/library/busybox@{digest_of(body)}"]
    assert record.config.cmd == ["sh"]
    layer = imp.snapshots.layer_dir(record.chain_ids[0])
    assert (layer / "bin" / "busybox").is_file()
    # by digest from a fresh store: the digest alone must be enough (no tag on the image)
    imp2 = importer(tmp_path / "second")
    again = client.pull(imp2, parse(f"{reg.host}/library/busybox@{digest_of(body)}"), hosts=http_hosts(reg))
    assert again.id == record.id and again.repo_tags == []
    assert not list((imp2.blobs.root / "ingest").iterdir())


def test_multi_platform_index_picks_host_platform(
    tmp_path: Path, start_reg: Callable[..., RealRegistry], busybox_layout: Path
) -> None:
    reg = start_reg()
    reg.push(busybox_layout, "library/busybox:oci", fmt="oci")
    reg.push(busybox_layout, "library/busybox:v2s2", fmt="v2s2")  # a second real manifest, for "arm64"
    ours = reg.manifest("library/busybox", "oci", OCI_MANIFEST)
    other = reg.manifest("library/busybox", "v2s2", DOCKER_MANIFEST)
    index = index_of(
        [
            ({"mediaType": DOCKER_MANIFEST, "digest": digest_of(other), "size": len(other)}, OTHER_ARCH),
            ({"mediaType": OCI_MANIFEST, "digest": digest_of(ours), "size": len(ours)}, HOST_ARCH),
        ]
    )
    reg.put_manifest("library/busybox", "multi", index, "application/vnd.oci.image.index.v1+json")
    record = client.pull(importer(tmp_path), parse(f"{reg.host}/library/busybox:multi"), hosts=http_hosts(reg))
    assert record.manifest_digest == digest_of(ours)
    # the repo digest is the index's: `busybox@<index digest>` names this image
    assert record.repo_digests == [f"{reg.host}/library/busybox@{digest_of(index)}"]


def test_index_without_host_platform_is_refused(
    tmp_path: Path, start_reg: Callable[..., RealRegistry], busybox_layout: Path
) -> None:
    reg = start_reg()
    reg.push(busybox_layout, "library/busybox:oci", fmt="oci")
    ours = reg.manifest("library/busybox", "oci", OCI_MANIFEST)
    index = index_of([({"mediaType": OCI_MANIFEST, "digest": digest_of(ours), "size": len(ours)}, OTHER_ARCH)])
    reg.put_manifest("library/busybox", "foreign", index, "application/vnd.oci.image.index.v1+json")
    with pytest.raises(ValueError, match=f"no manifest for linux/{HOST_ARCH}"):
        client.pull(importer(tmp_path), parse(f"{reg.host}/library/busybox:foreign"), hosts=http_hosts(reg))


def test_corrupt_blob_is_refused_and_never_stored(tmp_path: Path, registry: RealRegistry) -> None:
    body = registry.manifest("library/busybox", "1.36", OCI_MANIFEST)
    layer = json.loads(body)["layers"][0]["digest"]
    data = registry.blob_file(layer)
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF  # same size, different bytes: only the digest can tell
    data.write_bytes(bytes(content))
    imp = importer(tmp_path)
    with pytest.raises(DigestMismatch, match=layer):
        client.pull(imp, parse(f"{registry.host}/library/busybox:1.36"), hosts=http_hosts(registry))
    assert not imp.blobs.exists(layer)
    assert not list((imp.blobs.root / "ingest").iterdir())  # the partial download is gone too
    assert imp.images.list() == []


def test_basic_auth(tmp_path: Path, start_reg: Callable[..., RealRegistry], busybox_layout: Path) -> None:
    reg = start_reg(user="skiff", password="s3cret-registry")
    reg.push(busybox_layout, "library/busybox:1.36")
    ref = parse(f"{reg.host}/library/busybox:1.36")
    with pytest.raises(client.RegistryError, match="wrong or missing credentials") as err:
        client.pull(importer(tmp_path), ref, hosts=http_hosts(reg), credentials=client.Credentials("skiff", "nope"))
    assert err.value.unauthorized
    with pytest.raises(client.RegistryError, match="requires a username and password") as err:
        client.pull(importer(tmp_path), ref, hosts=http_hosts(reg))
    assert err.value.unauthorized
    good = client.Credentials.from_auth("", "", "c2tpZmY6czNjcmV0LXJlZ2lzdHJ5", "")  # base64 skiff:s3cret-registry
    record = client.pull(importer(tmp_path), ref, hosts=http_hosts(reg), credentials=good)
    assert record.repo_tags == [str(ref)]


def test_plain_http_only_when_insecure(tmp_path: Path, registry: RealRegistry) -> None:
    ref = parse(f"{registry.host}/library/busybox:1.36")
    # not configured insecure: HTTPS, which a plain-HTTP registry cannot answer
    with pytest.raises(client.RegistryError, match="https://"):
        client.pull(importer(tmp_path), ref, hosts=resolve_hosts(registry.host, None, []))
    assert client.pull(importer(tmp_path), ref, hosts=resolve_hosts(registry.host, None, [registry.host]))


def test_tls_registry_verification(
    tmp_path: Path,
    start_reg: Callable[..., RealRegistry],
    busybox_layout: Path,
    tls_cert: tuple[Path, Path],
) -> None:
    reg = start_reg(tls=tls_cert)
    reg.push(busybox_layout, "library/busybox:1.36")
    ref = parse(f"{reg.host}/library/busybox:1.36")
    config = tmp_path / "certs.d"
    (config / reg.host).mkdir(parents=True)
    toml = config / reg.host / "hosts.toml"
    # an unknown self-signed certificate is refused ...
    with pytest.raises(client.RegistryError, match="CERTIFICATE_VERIFY_FAILED"):
        client.pull(importer(tmp_path / "a"), ref, hosts=resolve_hosts(reg.host, config, []))
    # ... accepted with its CA configured, or with skip_verify
    toml.write_text(f'server = "https://{reg.host}"\nca = "{tls_cert[0]}"\n')
    assert client.pull(importer(tmp_path / "b"), ref, hosts=resolve_hosts(reg.host, config, []))
    toml.write_text(f'server = "https://{reg.host}"\nskip_verify = true\n')
    assert client.pull(importer(tmp_path / "c"), ref, hosts=resolve_hosts(reg.host, config, []))
    # insecure (plain HTTP) against a TLS registry does not work: no silent downgrade either way
    with pytest.raises(client.RegistryError):
        client.pull(importer(tmp_path / "d"), ref, hosts=resolve_hosts(reg.host, None, [reg.host]))


def test_bearer_token_auth(
    tmp_path: Path, start_reg: Callable[..., RealRegistry], busybox_layout: Path, token_server: TokenServer
) -> None:
    """distribution's token auth: the registry answers 401 with a Bearer challenge naming the token
    service; the client gets a token there with its basic credentials and uses it for the whole pull."""
    reg = start_reg(user="skiff", password="t0ken-pass", auth_yaml=token_server.registry_auth_yaml())
    reg.push(busybox_layout, "library/busybox:1.36")  # skopeo goes through the token service too
    ref = parse(f"{reg.host}/library/busybox:1.36")
    with pytest.raises(client.RegistryError, match="token endpoint refused: HTTP 401") as err:
        client.pull(importer(tmp_path), ref, hosts=http_hosts(reg), credentials=client.Credentials("skiff", "x"))
    assert err.value.unauthorized
    token_server.requests = 0
    good = client.Credentials("skiff", "t0ken-pass")
    record = client.pull(importer(tmp_path / "ok"), ref, hosts=http_hosts(reg), credentials=good)
    assert record.repo_tags == [str(ref)]
    assert token_server.requests == 1  # one token for the manifest and every blob
    # a token obtained elsewhere (CRI AuthConfig.registry_token) is used as is
    token = token_server.token(["repository:library/busybox:pull"])
    assert client.pull(
        importer(tmp_path / "tok"), ref, hosts=http_hosts(reg), credentials=client.Credentials(registry_token=token)
    )
    assert token_server.requests == 1


def test_a_layer_shared_by_two_images_is_downloaded_and_unpacked_once(
    tmp_path: Path, start_reg: Callable[..., RealRegistry], busybox_layout: Path
) -> None:
    reg = start_reg()
    reg.push(busybox_layout, "library/busybox:oci", fmt="oci")
    reg.push(busybox_layout, "library/busybox:v2s2", fmt="v2s2")  # another manifest and config, same layer
    imp = importer(tmp_path)
    first = client.pull(imp, parse(f"{reg.host}/library/busybox:oci"), hosts=http_hosts(reg))
    layer_dir = imp.snapshots.layer_dir(first.chain_ids[0])
    inode = layer_dir.stat().st_ino
    second = client.pull(imp, parse(f"{reg.host}/library/busybox:v2s2"), hosts=http_hosts(reg))
    assert second.manifest_digest != first.manifest_digest and second.chain_ids == first.chain_ids
    assert imp.snapshots.layer_dir(second.chain_ids[0]).stat().st_ino == inode
    assert imp.snapshots.layer_ids() == first.chain_ids
    assert reg.blob_gets(first.layers[0].digest) == 1


def test_mirror_capabilities_and_fallback(
    tmp_path: Path, start_reg: Callable[..., RealRegistry], busybox_layout: Path
) -> None:
    """A `pull`-only mirror serves content by digest but never answers tags; a dead mirror falls back."""
    upstream, mirror = start_reg(), start_reg()
    upstream.push(busybox_layout, "library/busybox:1.36")
    mirror.push(busybox_layout, "library/busybox:1.36")
    body = upstream.manifest("library/busybox", "1.36", OCI_MANIFEST)
    config = tmp_path / "certs.d"
    (config / "docker.io").mkdir(parents=True)
    (config / "docker.io" / "hosts.toml").write_text(
        f'server = "http://{upstream.host}"\n[host."http://{mirror.host}"]\n  capabilities = ["pull"]\n'
    )
    ref = parse("busybox:1.36")
    record = client.pull(importer(tmp_path / "a"), ref, hosts=resolve_hosts("docker.io", config, []))
    assert record.repo_digests == [f"docker.io/library/busybox@{digest_of(body)}"]
    tag_get = '"GET /v2/library/busybox/manifests/1.36 '
    assert tag_get in upstream.log.read_text() and tag_get not in mirror.log.read_text()
    for layer in record.layers:  # content came from the mirror
        assert mirror.blob_gets(layer.digest) == 1 and upstream.blob_gets(layer.digest) == 0
    # a mirror that is down: the upstream serves everything
    (config / "docker.io" / "hosts.toml").write_text(
        f'server = "http://{upstream.host}"\n[host."http://127.0.0.1:{free_port()}"]\n'
    )
    again = client.pull(importer(tmp_path / "b"), ref, hosts=resolve_hosts("docker.io", config, []))
    assert again.id == record.id and upstream.blob_gets(record.layers[0].digest) == 1
