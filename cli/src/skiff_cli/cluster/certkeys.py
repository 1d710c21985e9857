"""kubeadm's --upload-certs / --certificate-key: how a new control-plane member gets the shared keys.

Every member must sign with the same CAs and ServiceAccount key (and read etcd with the same encryption
config), but these never travel in the clear. As kubeadm's upload-certs phase does:

* the keys are encrypted with AES-256-GCM under a random 32-byte key (the "certificate key", shown once
  as 64 hex digits; each value is nonce || ciphertext) and stored in the kube-system Secret
  `kubeadm-certs`;
* the Secret is owned by a bootstrap token that expires after 2 hours: the token cleaner deletes the
  token then, and the garbage collector the Secret with it (kubeadm's TTL proxy);
* the Role `kubeadm:kubeadm-certs` lets bootstrap tokens (group
  system:bootstrappers:kubeadm:default-node-token) read that one Secret, so `skiff join --control-plane
  --certificate-key KEY` downloads it with its join token over the discovered, pinned CA and decrypts it
  locally. A wrong key fails GCM's authentication and is reported as such.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from skiff.api.core.v1 import config_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.api.rbac.v1 import rbac_pb2
from skiff_client.api import ApiClient
from skiff_common import errors
from skiff_common.bootstrap import token

SECRET = "kubeadm-certs"
NAMESPACE = "kube-system"
ROLE = "kubeadm:kubeadm-certs"
TTL = dt.timedelta(hours=2)
# Secret key -> file under pki/ (kubeadm's names: etcd's CA as etcd-ca.*).
FILES = {
    "ca.crt": "ca.crt",
    "ca.key": "ca.key",
    "etcd-ca.crt": "etcd/ca.crt",
    "etcd-ca.key": "etcd/ca.key",
    "sa.key": "sa.key",
    "encryption.yaml": "encryption.yaml",
}


class CertKeyError(Exception):
    pass


def new_key() -> str:
    return secrets.token_bytes(32).hex()


def _aead(key_hex: str) -> AESGCM:
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise CertKeyError("--certificate-key: must be 64 hex digits (a 32-byte AES key)")
    return AESGCM(key)


def encrypt(key_hex: str, data: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + _aead(key_hex).encrypt(nonce, data, None)


def decrypt(key_hex: str, blob: bytes) -> bytes:
    aead = _aead(key_hex)
    try:
        return aead.decrypt(blob[:12], blob[12:], None)
    except InvalidTag:
        raise CertKeyError(f"--certificate-key: does not decrypt {NAMESPACE}/{SECRET} (wrong key?)") from None


async def upload(client: ApiClient, pki_dir: Path, key_hex: str) -> token.BootstrapToken:
    """Encrypt the shared keys into kube-system/kubeadm-certs, owned by a new 2-hour token (returned)."""
    ttl_token = token.generate(TTL, usages=(), groups=(), description="proxy for managing TTL for kubeadm-certs")
    owner = await client.create(ttl_token.to_secret())
    secret = config_pb2.Secret(api_version="v1", kind="Secret", type="Opaque")
    secret.metadata.name, secret.metadata.namespace = SECRET, NAMESPACE
    secret.metadata.owner_references.append(
        meta_pb2.OwnerReference(api_version="v1", kind="Secret", name=owner.metadata.name, uid=owner.metadata.uid)
    )
    for key, name in FILES.items():
        secret.data[key] = encrypt(key_hex, (pki_dir / name).read_bytes())
    try:
        await client.create(secret)
    except errors.AlreadyExists:
        current = await client.get(config_pb2.Secret, SECRET, NAMESPACE)
        secret.metadata.resource_version = current.metadata.resource_version
        await client.update(secret)
    await _allow_bootstrappers(client)
    return ttl_token


async def _allow_bootstrappers(client: ApiClient) -> None:
    role = rbac_pb2.Role(api_version="rbac.authorization.k8s.io/v1", kind="Role")
    role.metadata.name, role.metadata.namespace = ROLE, NAMESPACE
    role.rules.add(api_groups=[""], resources=["secrets"], resource_names=[SECRET], verbs=["get"])
    binding = rbac_pb2.RoleBinding(api_version="rbac.authorization.k8s.io/v1", kind="RoleBinding")
    binding.metadata.name, binding.metadata.namespace = ROLE, NAMESPACE
    binding.role_ref.api_group, binding.role_ref.kind, binding.role_ref.name = "rbac.authorization.k8s.io", "Role", ROLE
    binding.subjects.add(kind="Group", api_group="rbac.authorization.k8s.io", name=token.DEFAULT_GROUP)
    for obj in (role, binding):
        try:
            await client.create(obj)
        except errors.AlreadyExists:
            pass


def download(server: str, ca_pem: bytes, token_value: str, key_hex: str, pki_dir: Path) -> None:
    """Fetch kube-system/kubeadm-certs as the bootstrap token (REST, over the pinned CA), decrypt each key
    with the certificate key and write it under `pki_dir` (private keys 0600)."""
    _aead(key_hex)  # a malformed key is reported before any request
    context = ssl.create_default_context(cadata=ca_pem.decode())
    request = urllib.request.Request(
        f"{server}/api/v1/namespaces/{NAMESPACE}/secrets/{SECRET}", headers={"Authorization": f"Bearer {token_value}"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        hint = " (expired after 2 h? run `skiff token create --upload-certs` again)" if exc.code == 404 else ""
        raise CertKeyError(f"could not read {NAMESPACE}/{SECRET}: HTTP {exc.code} {exc.reason}{hint}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CertKeyError(f"could not read {NAMESPACE}/{SECRET} from {server}: {exc}") from None
    data = body.get("data") or {}
    for key, name in FILES.items():
        if key not in data:
            raise CertKeyError(f"{NAMESPACE}/{SECRET}: no {key!r} in it")
        plain = decrypt(key_hex, base64.b64decode(data[key]))
        path = pki_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if name.endswith(".crt") else 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(plain)
