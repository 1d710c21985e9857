"""The `skiff` context in the user's kubeconfig, so kubectl (and every Kubernetes client) reaches the
local cluster's REST API right after `skiff up`, as kind does.

`merge` adds or refreshes cluster `skiff`, user `skiff-admin` and context `skiff` in the first file of
$KUBECONFIG (else ~/.kube/config) and makes the context current; every other entry of the file is kept.
`remove` takes the three entries out again (and clears current-context if it was ours). The entries point
at the certificate files of the cluster's PKI rather than embedding them: the private key stays in its
own 0600 file. The file is written 0600, atomically (temporary file + rename) under an flock, so two
commands never interleave their edits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from skiff_common.grpcutil import TLSConfig

CONTEXT = "skiff"
CLUSTER = "skiff"
USER = "skiff-admin"


def kubeconfig_path() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


@contextlib.contextmanager
def _edit(path: Path) -> Iterator[dict[str, Any]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(f"{path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            data = {}
        if not isinstance(data, dict):
            raise SystemExit(f"error: {path}: not a kubeconfig file (expected a mapping)")
        for key in ("clusters", "users", "contexts"):
            data[key] = data.get(key) or []
        data.setdefault("apiVersion", "v1")
        data.setdefault("kind", "Config")
        data.setdefault("preferences", {})
        yield data
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(data, f, sort_keys=False)
        os.replace(tmp, path)
    finally:
        os.close(lock)
        with contextlib.suppress(OSError):
            os.unlink(f"{path}.lock")


def _put(entries: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> None:
    for entry in entries:
        if entry.get("name") == name:
            entry[key] = value
            return
    entries.append({"name": name, key: value})


def merge(server: str, tls: TLSConfig, path: Path | None = None) -> Path:
    """Add (or refresh) the skiff cluster, user and context and make the context current."""
    path = path or kubeconfig_path()
    with _edit(path) as data:
        _put(data["clusters"], CLUSTER, "cluster", {"server": server, "certificate-authority": tls.ca_file})
        _put(data["users"], USER, "user", {"client-certificate": tls.cert_file, "client-key": tls.key_file})
        _put(data["contexts"], CONTEXT, "context", {"cluster": CLUSTER, "user": USER})
        data["current-context"] = CONTEXT
    return path


def remove(path: Path | None = None) -> Path | None:
    """Take the skiff entries out; None when there was no file to edit."""
    path = path or kubeconfig_path()
    if not path.exists():
        return None
    with _edit(path) as data:
        data["clusters"] = [c for c in data["clusters"] if c.get("name") != CLUSTER]
        data["users"] = [u for u in data["users"] if u.get("name") != USER]
        data["contexts"] = [c for c in data["contexts"] if c.get("name") != CONTEXT]
        if data.get("current-context") == CONTEXT:
            data["current-context"] = ""
    return path
