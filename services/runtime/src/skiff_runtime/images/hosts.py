"""Which hosts serve a registry: containerd's registry hosts configuration (`config_path`), read per pull.

    <registry-config-dir>/<registry host>/hosts.toml      e.g. docker.io/hosts.toml, 127.0.0.1:5000/hosts.toml
    <registry-config-dir>/_default/hosts.toml             for every registry without its own directory

    server = "https://registry-1.docker.io"               # the upstream, tried last (default: see below)
    [host."http://127.0.0.1:5000"]                         # mirrors, tried first, in file order
      capabilities = ["pull", "resolve"]                 # resolve: may answer tag -> digest
      skip_verify = false                                # TLS without certificate verification
      ca = "/etc/skiff/registry-ca.pem"                  # extra CA bundle (str or list)
      override_path = false                              # true: the URL already is the API root
      [host."http://127.0.0.1:5000".header]
        x-custom = "value"

The same semantics as containerd (docs/hosts.md), trimmed to what a pull needs: mirrors first, the server
last; a host without `resolve` is used only for content addressed by digest (a mirror that cannot be
trusted for tags); a URL's scheme decides plain HTTP or TLS; `/v2` is appended to the URL's path unless
`override_path`. Without a file the server is `https://<host>` (docker.io: `https://registry-1.docker.io`)
and `--insecure-registries` turns that default into plain HTTP. The files are read on every pull (they are
tiny), so editing them needs no restart, as with containerd.

A configuration error names the file and the field; it is never silently ignored, because a mistyped
mirror would otherwise send pulls to the internet.
"""

from __future__ import annotations

import tomllib
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skiff_runtime.images.reference import DEFAULT_DOMAIN

DOCKER_HUB_SERVER = "https://registry-1.docker.io"
CAPABILITIES = frozenset({"pull", "resolve", "push"})
_HOST_KEYS = {"capabilities", "skip_verify", "ca", "client", "header", "override_path"}
_TOP_KEYS = {"server", "capabilities", "skip_verify", "ca", "client", "header", "override_path", "host"}


class HostsConfigError(ValueError):
    """A hosts.toml is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class RegistryHost:
    """One endpoint that can serve a registry's repositories."""

    api_root: str  # scheme://host[:port]/path, the URL that `/<repo>/manifests/<ref>` is appended to
    capabilities: frozenset[str] = CAPABILITIES
    skip_verify: bool = False
    ca: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def plain_http(self) -> bool:
        return self.api_root.startswith("http://")

    @property
    def netloc(self) -> str:
        return urllib.parse.urlsplit(self.api_root).netloc

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


def default_server(domain: str, insecure: bool) -> str:
    if domain == DEFAULT_DOMAIN:
        return DOCKER_HUB_SERVER
    return f"{'http' if insecure else 'https'}://{domain}"


def _api_root(url: str, override_path: bool, where: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HostsConfigError(f"{where}: {url!r} is not an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise HostsConfigError(f"{where}: {url!r} must not have a query or fragment")
    path = parts.path.rstrip("/")
    if not override_path and not path.endswith("/v2"):
        path += "/v2"
    return f"{parts.scheme}://{parts.netloc}{path}"


def _host(url: str, table: dict[str, Any], where: str) -> RegistryHost:
    unknown = set(table) - _HOST_KEYS
    if unknown:
        raise HostsConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    caps = table.get("capabilities", sorted(CAPABILITIES))
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise HostsConfigError(f"{where}.capabilities: must be a list of strings")
    if set(caps) - CAPABILITIES:
        bad = ", ".join(sorted(set(caps) - CAPABILITIES))
        raise HostsConfigError(f"{where}.capabilities: unknown capability {bad} (want pull, resolve, push)")
    skip_verify = table.get("skip_verify", False)
    override_path = table.get("override_path", False)
    for name, value in (("skip_verify", skip_verify), ("override_path", override_path)):
        if not isinstance(value, bool):
            raise HostsConfigError(f"{where}.{name}: must be true or false")
    ca = table.get("ca", [])
    ca_list = [ca] if isinstance(ca, str) else ca
    if not isinstance(ca_list, list) or not all(isinstance(c, str) for c in ca_list):
        raise HostsConfigError(f"{where}.ca: must be a path or a list of paths")
    if "client" in table:
        raise HostsConfigError(f"{where}.client: client certificates are not supported")
    header = table.get("header", {})
    if not isinstance(header, dict):
        raise HostsConfigError(f"{where}.header: must be a table of name = value")
    headers: list[tuple[str, str]] = []
    for name, value in header.items():
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                raise HostsConfigError(f"{where}.header.{name}: must be a string or a list of strings")
            headers.append((name, item))
    return RegistryHost(
        api_root=_api_root(url, override_path, where),
        capabilities=frozenset(caps),
        skip_verify=skip_verify,
        ca=tuple(ca_list),
        headers=tuple(headers),
    )


def parse_hosts_toml(
    text: str, domain: str, *, insecure: bool = False, where: str = "hosts.toml"
) -> list[RegistryHost]:
    """The hosts of one hosts.toml, mirrors first and the server last."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise HostsConfigError(f"{where}: not valid TOML: {err}") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise HostsConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    mirrors = data.get("host", {})
    if not isinstance(mirrors, dict) or not all(isinstance(v, dict) for v in mirrors.values()):
        raise HostsConfigError(f'{where}: host entries must be tables: [host."https://mirror"]')
    hosts = [_host(url, table, f'{where}: host."{url}"') for url, table in mirrors.items()]
    server = data.get("server", default_server(domain, insecure))
    if not isinstance(server, str):
        raise HostsConfigError(f"{where}.server: must be a URL string")
    top = {k: v for k, v in data.items() if k not in ("server", "host")}
    hosts.append(_host(server, top, f"{where}: server"))
    return hosts


def resolve_hosts(domain: str, config_dir: str | Path | None, insecure_registries: Sequence[str]) -> list[RegistryHost]:
    """The endpoints to try for `domain`, in order (never empty)."""
    insecure = domain in insecure_registries
    if config_dir:
        for name in (domain, "_default"):
            path = Path(config_dir) / name / "hosts.toml"
            if path.is_file():
                try:
                    text = path.read_text()
                except OSError as err:
                    raise HostsConfigError(f"{path}: {err.strerror}") from None
                return parse_hosts_toml(text, domain, insecure=insecure, where=str(path))
    return [RegistryHost(api_root=_api_root(default_server(domain, insecure), False, domain))]
