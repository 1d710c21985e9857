"""EncryptionConfiguration (apiserver.config.k8s.io/v1), as kube-apiserver reads it:

    apiVersion: apiserver.config.k8s.io/v1
    kind: EncryptionConfiguration
    resources:
      - resources: [secrets]
        providers:
          - aesgcm: {keys: [{name: key2, secret: <base64>}, {name: key1, secret: <base64>}]}
          - identity: {}

Per resource group, the first provider (and its first key) writes; all of them read. Every problem is
reported with its field path (`resources[0].providers[0].aesgcm.keys[0].secret: ...`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from skiff_common import errors

from skiff_apiserver.encryption.providers import PROVIDERS, IdentityProvider, Key, Provider


@dataclass(frozen=True)
class ResourceConfig:
    resources: tuple[str, ...]  # plural names, e.g. "secrets" (a group-qualified name keeps its group off)
    providers: tuple[Provider, ...]


def _fail(path: str, reason: str, detail: str = "") -> errors.Invalid:
    return errors.Invalid("EncryptionConfiguration is invalid", [errors.FieldError(path, reason, detail)])


def _provider(entry: Any, path: str) -> Provider:
    if not isinstance(entry, dict) or len(entry) != 1:
        raise _fail(path, "Invalid value", f"exactly one provider per entry, one of {', '.join(PROVIDERS)}")
    ((name, body),) = entry.items()
    cls = PROVIDERS.get(name)
    if cls is None:
        raise _fail(f"{path}.{name}", "Unsupported value", f"supported providers: {', '.join(PROVIDERS)}")
    if cls is IdentityProvider:
        return cls([])
    raw_keys = (body or {}).get("keys") if isinstance(body, dict) else None
    if not raw_keys or not isinstance(raw_keys, list):
        raise _fail(f"{path}.{name}.keys", "Required value", "at least one key")
    keys = []
    for i, k in enumerate(raw_keys):
        kp = f"{path}.{name}.keys[{i}]"
        if not isinstance(k, dict) or not k.get("name"):
            raise _fail(f"{kp}.name", "Required value")
        try:
            secret = base64.b64decode(str(k.get("secret", "")), validate=True)
        except (binascii.Error, ValueError):
            raise _fail(f"{kp}.secret", "Invalid value", "must be base64") from None
        if len(secret) not in cls.key_sizes:  # type: ignore[attr-defined]
            sizes = ", ".join(str(s) for s in cls.key_sizes)  # type: ignore[attr-defined]
            raise _fail(f"{kp}.secret", "Invalid value", f"{name} keys must be {sizes} bytes, got {len(secret)}")
        keys.append(Key(str(k["name"]), secret))
    return cls(keys)


def parse(data: Any) -> list[ResourceConfig]:
    if not isinstance(data, dict) or data.get("kind") != "EncryptionConfiguration":
        raise _fail("kind", "Invalid value", 'must be "EncryptionConfiguration"')
    out = []
    for i, group in enumerate(data.get("resources") or []):
        path = f"resources[{i}]"
        names = group.get("resources") if isinstance(group, dict) else None
        if not names:
            raise _fail(f"{path}.resources", "Required value")
        providers = group.get("providers") or []
        if not providers:
            raise _fail(f"{path}.providers", "Required value")
        out.append(
            ResourceConfig(
                tuple(str(n).split(".")[0] for n in names),
                tuple(_provider(p, f"{path}.providers[{j}]") for j, p in enumerate(providers)),
            )
        )
    return out


def load(path: str) -> list[ResourceConfig]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"--encryption-provider-config: cannot read {path}: {exc.strerror}") from None
    return parse(data)
