"""Which provider encrypts and decrypts a value in etcd, chosen by the key's resource.

The etcd client calls `to_storage` on every value it writes and `from_storage` on every value it reads
(get, range, watch events). Keys of resources the configuration does not name pass through untouched, as
do unprefixed values when `identity` is among a resource's providers (data written before encryption
was turned on). A value whose provider or key is no longer configured cannot be read: an error naming
the key, rather than ciphertext handed to a decoder.
"""

from __future__ import annotations

from skiff_common import errors

from skiff_apiserver.encryption.config import ResourceConfig
from skiff_apiserver.encryption.providers import DecryptError, IdentityProvider, Provider

_MAGIC = b"k8s:enc:"


class Transformer:
    def __init__(self, etcd_prefix: str, configs: list[ResourceConfig]) -> None:
        base = etcd_prefix.rstrip("/")
        self.by_prefix: list[tuple[bytes, tuple[Provider, ...]]] = []
        for cfg in configs:
            for resource in cfg.resources:
                self.by_prefix.append((f"{base}/{resource}/".encode(), cfg.providers))

    def _providers(self, key: bytes) -> tuple[Provider, ...] | None:
        for prefix, providers in self.by_prefix:
            if key.startswith(prefix):
                return providers
        return None

    def to_storage(self, key: bytes, value: bytes) -> bytes:
        providers = self._providers(key)
        if not providers:
            return value
        return providers[0].encrypt(key, value)

    def from_storage(self, key: bytes, value: bytes) -> bytes:
        providers = self._providers(key)
        if not providers or not value:
            return value
        if not value.startswith(_MAGIC):
            if any(isinstance(p, IdentityProvider) for p in providers):
                return value
            raise errors.InternalError(
                f"{key.decode(errors='replace')}: stored unencrypted, and identity is not a provider"
            )
        header = value.split(b":", 5)
        if len(header) == 6:
            name, key_name, payload = header[2].decode(), header[4].decode(), header[5]
            for p in providers:
                k = p.keys.get(key_name) if p.name == name else None
                if k is not None:
                    try:
                        return p.decrypt(k, key, payload)
                    except DecryptError as exc:
                        raise errors.InternalError(f"{key.decode(errors='replace')}: {exc}") from None
        raise errors.InternalError(f"{key.decode(errors='replace')}: no configured provider and key can decrypt it")

    def stale(self, key: bytes, value: bytes) -> bool:
        """Whether a stored value was not written by the current write provider and key (rewrite it)."""
        providers = self._providers(key)
        if not providers:
            return False
        first = providers[0]
        if isinstance(first, IdentityProvider):
            return value.startswith(_MAGIC)
        assert first.first is not None
        return not value.startswith(first.prefix(first.first))
