"""Bootstrap tokens, as Kubernetes stores them.

A token is `<token-id>.<token-secret>` (6 and 16 characters of [a-z0-9]); it lives in kube-system as a
Secret named `bootstrap-token-<token-id>` of type `bootstrap.kubernetes.io/token`, whose data holds
`token-id`, `token-secret`, an RFC 3339 `expiration`, the `usage-bootstrap-*` flags, `auth-extra-groups`
and a `description`. The id is public (it names the Secret and the JWS key); the secret proves the
token. Expired tokens stop counting at once (readers check `expiration`) and are deleted later by the
token cleaner.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field

from skiff.api.core.v1 import config_pb2

SECRET_TYPE = "bootstrap.kubernetes.io/token"
NAMESPACE = "kube-system"
NAME_PREFIX = "bootstrap-token-"
DEFAULT_GROUP = "system:bootstrappers:kubeadm:default-node-token"
DEFAULT_USAGES = ("authentication", "signing")
DEFAULT_TTL = dt.timedelta(hours=24)
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_GROUP_RE = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class TokenError(ValueError):
    """A token or token Secret that is not well formed; the message names the field."""


@dataclass(frozen=True)
class BootstrapToken:
    id: str
    secret: str
    expiration: dt.datetime | None = None  # None: never expires
    usages: tuple[str, ...] = DEFAULT_USAGES
    groups: tuple[str, ...] = (DEFAULT_GROUP,)
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def value(self) -> str:
        return f"{self.id}.{self.secret}"

    @property
    def secret_name(self) -> str:
        return NAME_PREFIX + self.id

    def expired(self, at: dt.datetime | None = None) -> bool:
        return self.expiration is not None and self.expiration <= (at or dt.datetime.now(dt.UTC))

    def to_secret(self) -> config_pb2.Secret:
        data = {"token-id": self.id, "token-secret": self.secret}
        if self.expiration is not None:
            data["expiration"] = self.expiration.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for usage in self.usages:
            data[f"usage-bootstrap-{usage}"] = "true"
        if self.groups:
            data["auth-extra-groups"] = ",".join(self.groups)
        if self.description:
            data["description"] = self.description
        secret = config_pb2.Secret(type=SECRET_TYPE, data={k: v.encode() for k, v in data.items()})
        secret.metadata.name = self.secret_name
        secret.metadata.namespace = NAMESPACE
        return secret


def generate(
    ttl: dt.timedelta | None = DEFAULT_TTL,
    *,
    usages: tuple[str, ...] = DEFAULT_USAGES,
    groups: tuple[str, ...] = (DEFAULT_GROUP,),
    description: str = "",
) -> BootstrapToken:
    """A fresh random token; `ttl` None or zero means it never expires (as kubeadm's --ttl 0)."""
    expiration = dt.datetime.now(dt.UTC).replace(microsecond=0) + ttl if ttl else None
    return BootstrapToken(_random(6), _random(16), expiration, usages, groups, description)


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def parse(value: str) -> tuple[str, str]:
    """(id, secret) of `<id>.<secret>`, or TokenError saying what the format is."""
    m = TOKEN_RE.match(value.strip())
    if not m:
        raise TokenError(
            "token: the bootstrap token must be of the form [a-z0-9]{6}.[a-z0-9]{16} (e.g. abcdef.0123456789abcdef)"
        )
    return m.group(1), m.group(2)


def _parse_time(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TokenError(f"expiration: {value!r} is not an RFC 3339 time") from None
    if when.tzinfo is None:
        raise TokenError(f"expiration: {value!r} has no time zone")
    return when


def from_secret(secret: config_pb2.Secret) -> BootstrapToken:
    """The token a Secret holds; TokenError (naming the field) for one that is not a valid token."""
    if secret.type != SECRET_TYPE:
        raise TokenError(f"type: {secret.type!r} is not {SECRET_TYPE}")
    data = {k: v.decode(errors="replace") for k, v in secret.data.items()}
    token_id, token_secret = data.get("token-id", ""), data.get("token-secret", "")
    parse(f"{token_id}.{token_secret}")
    if secret.metadata.name != NAME_PREFIX + token_id:
        raise TokenError(f"metadata.name: {secret.metadata.name!r} must be {NAME_PREFIX}{token_id}")
    expiration = _parse_time(data["expiration"]) if data.get("expiration") else None
    usages = tuple(
        k.removeprefix("usage-bootstrap-")
        for k, v in sorted(data.items())
        if k.startswith("usage-bootstrap-") and v == "true"
    )
    groups = tuple(g.strip() for g in data.get("auth-extra-groups", "").split(",") if g.strip())
    for group in groups:
        if not _GROUP_RE.match(group):
            raise TokenError(f"auth-extra-groups: {group!r} must start with system:bootstrappers:")
    return BootstrapToken(token_id, token_secret, expiration, usages, groups, data.get("description", ""))
