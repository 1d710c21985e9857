"""The providers of Kubernetes' EncryptionConfiguration, with its storage format.

A value written by a provider is `k8s:enc:<provider>:v1:<key name>:<payload>`, so a reader knows which
provider and key wrote it, and keys can rotate (several keys per provider, the first one writes):

* aesgcm    AES-GCM, 16/24/32-byte keys, payload = 12-byte random nonce + ciphertext + tag; the etcd key
            is the authenticated data (a value copied under another key does not decrypt)
* aescbc    AES-CBC with PKCS#7 padding, 32-byte keys, payload = 16-byte random IV + ciphertext
* secretbox XSalsa20-Poly1305 (NaCl), 32-byte keys, payload = 24-byte random nonce + box
* identity  no encryption, no prefix: what an apiserver without the config wrote
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import nacl.secret
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DecryptError(Exception):
    pass


@dataclass(frozen=True)
class Key:
    name: str
    secret: bytes


class Provider:
    name = ""

    def __init__(self, keys: list[Key]) -> None:
        self.keys = {k.name: k for k in keys}
        self.first = keys[0] if keys else None

    def prefix(self, key: Key) -> bytes:
        return f"k8s:enc:{self.name}:v1:{key.name}:".encode()

    def encrypt(self, etcd_key: bytes, plaintext: bytes) -> bytes:
        assert self.first is not None
        return self.prefix(self.first) + self._seal(self.first, etcd_key, plaintext)

    def decrypt(self, key: Key, etcd_key: bytes, payload: bytes) -> bytes:
        try:
            return self._open(key, etcd_key, payload)
        except (ValueError, nacl.exceptions.CryptoError, Exception) as exc:
            raise DecryptError(
                f"{self.name} key {key.name!r} cannot decrypt this value: {type(exc).__name__}"
            ) from None

    def _seal(self, key: Key, etcd_key: bytes, plaintext: bytes) -> bytes:
        raise NotImplementedError

    def _open(self, key: Key, etcd_key: bytes, payload: bytes) -> bytes:
        raise NotImplementedError


class AESGCMProvider(Provider):
    name = "aesgcm"
    key_sizes = (16, 24, 32)

    def _seal(self, key: Key, etcd_key: bytes, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(key.secret).encrypt(nonce, plaintext, etcd_key)

    def _open(self, key: Key, etcd_key: bytes, payload: bytes) -> bytes:
        return AESGCM(key.secret).decrypt(payload[:12], payload[12:], etcd_key)


class AESCBCProvider(Provider):
    name = "aescbc"
    key_sizes = (32,)

    def _seal(self, key: Key, etcd_key: bytes, plaintext: bytes) -> bytes:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        data = padder.update(plaintext) + padder.finalize()
        enc = Cipher(algorithms.AES(key.secret), modes.CBC(iv)).encryptor()
        return iv + enc.update(data) + enc.finalize()

    def _open(self, key: Key, etcd_key: bytes, payload: bytes) -> bytes:
        dec = Cipher(algorithms.AES(key.secret), modes.CBC(payload[:16])).decryptor()
        data = dec.update(payload[16:]) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(data) + unpadder.finalize()


class SecretboxProvider(Provider):
    name = "secretbox"
    key_sizes = (32,)

    def _seal(self, key: Key, etcd_key: bytes, plaintext: bytes) -> bytes:
        return bytes(nacl.secret.SecretBox(key.secret).encrypt(plaintext))  # nonce + box

    def _open(self, key: Key, etcd_key: bytes, payload: bytes) -> bytes:
        return bytes(nacl.secret.SecretBox(key.secret).decrypt(payload))


class IdentityProvider(Provider):
    name = "identity"
    key_sizes = ()

    def encrypt(self, etcd_key: bytes, plaintext: bytes) -> bytes:
        return plaintext


PROVIDERS: dict[str, type[Provider]] = {
    p.name: p for p in (AESGCMProvider, AESCBCProvider, SecretboxProvider, IdentityProvider)
}
