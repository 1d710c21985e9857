"""Image reference normalisation, exactly as Docker does it (distribution/reference's normalised names).

`busybox` -> `docker.io/library/busybox:latest`, `foo/bar:1` -> `docker.io/foo/bar:1`,
`localhost:5000/x` -> `localhost:5000/x:latest`, `x@sha256:...` keeps the digest and gets no tag.
The first path component is a registry only if it contains "." or ":", is "localhost", or has an
upper-case letter (Docker's rule); otherwise the name lives on Docker Hub, and one-component Hub names
live under `library/`. `index.docker.io` is folded into `docker.io`.

A bare 64-hex string (or `sha256:<hex>`) is an image ID, not a name: Docker refuses it as a reference
and so do we (`is_image_id` lets the image store look it up by ID instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = re.compile(rf"^{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*$")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"^{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")


class ReferenceError(ValueError):
    """The string is not a valid image reference; the message says why."""


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """Repository name without tag or digest: `docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_image_id(text: str) -> bool:
    """True for `sha256:<64 hex>` or a bare 64-hex ID."""
    hexpart = text.removeprefix("sha256:")
    return bool(_SHA256_HEX.match(hexpart))


def validate_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise ReferenceError(f"invalid digest {digest!r}")
    algorithm, _, hexpart = digest.partition(":")
    if algorithm == "sha256" and not _SHA256_HEX.match(hexpart):
        raise ReferenceError(f"invalid sha256 digest {digest!r}: want 64 lower-case hex characters")
    return digest


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse(text: str) -> Reference:
    """Parse and normalise a reference; adds `:latest` when there is neither tag nor digest."""
    if not text:
        raise ReferenceError("empty image reference")
    if text != text.strip():
        raise ReferenceError(f"invalid reference {text!r}: surrounding whitespace")
    if is_image_id(text) and "/" not in text:
        raise ReferenceError(f"{text!r} is an image ID, not a reference")
    remainder, _, digest = text.partition("@")
    if digest:
        validate_digest(digest)
    tag = ""
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG.match(tag):
            raise ReferenceError(f"invalid tag {tag!r} in reference {text!r}")
    if not remainder:
        raise ReferenceError(f"invalid reference {text!r}: empty repository name")
    domain, path = _split_domain(remainder)
    if not _DOMAIN.match(domain):
        raise ReferenceError(f"invalid registry host {domain!r} in reference {text!r}")
    if path.lower() != path:
        raise ReferenceError(f"invalid reference {text!r}: repository name must be lowercase")
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            raise ReferenceError(f"invalid repository path component {component!r} in reference {text!r}")
    if len(domain) + 1 + len(path) > NAME_TOTAL_LENGTH_MAX:
        raise ReferenceError(f"repository name in {text!r} is longer than {NAME_TOTAL_LENGTH_MAX} characters")
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain=domain, path=path, tag=tag, digest=digest)


def normalize(text: str) -> str:
    """`busybox` -> `docker.io/library/busybox:latest` (see `parse`)."""
    return str(parse(text))
