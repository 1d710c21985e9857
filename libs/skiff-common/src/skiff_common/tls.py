"""A quick test PKI: one CA and one mutual-TLS certificate per name, each usable as client AND server.

Clusters do not use this any more: `skiff up`, `skiff certs` and the TLS bootstrap issue kubeadm's
certificates, one job each, from skiff_common.pki. This stays for tests and benchmarks that need a
certificate that can be both ends of a connection.

Design:
* ECDSA P-256 keys: small, fast to generate (start-up stays quick) and supported by gRPC's BoringSSL.
* Every component certificate carries BOTH serverAuth and clientAuth, because Skiff components are
  both (the kubelet serves the runtime's clients and dials the apiserver). CN is the component name, so
  a server can identify its caller from the peer certificate.
* Idempotent, and self-healing rather than blindly "create once": an existing certificate is kept only
  if it is signed by the current CA, matches its key and its hosts and is not about to expire;
  otherwise it is re-issued. Deleting ca.key therefore re-issues everything on the next run.
* Issued by skiff_common.pki as "peer" profiles (both usages), so key handling, atomic 0600 writes
  and the folder's flock are that module's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from skiff_common.grpcutil.credentials import TLSConfig
from skiff_common.pki import ClusterPKI
from skiff_common.pki.issue import CertProfile

_COMPONENT_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")


def ensure_cluster_pki(
    directory: Path,
    *,
    components: Sequence[str],
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
) -> dict[str, TLSConfig]:
    """Create (or repair) `ca.crt`/`ca.key` and `<component>.crt`/`.key` under `directory`."""
    for name in components:
        if not _COMPONENT_NAME.match(name) or name == "ca":
            raise ValueError(f"components: invalid component name {name!r} (lowercase letters, digits, '-', '.')")
    if not hosts:
        raise ValueError("hosts: at least one host name or IP address is required")
    profiles = [CertProfile(name, name, "peer", hosts=tuple(dict.fromkeys(hosts))) for name in components]
    return ClusterPKI(Path(directory)).ensure(profiles)


def peer_common_name(auth_context: dict[str, list[bytes]]) -> str | None:
    """The CN of the verified client certificate, from `context.auth_context()` (None without mTLS)."""
    values = auth_context.get("x509_common_name") or []
    return values[0].decode() if values else None


__all__ = ["ensure_cluster_pki", "peer_common_name"]
