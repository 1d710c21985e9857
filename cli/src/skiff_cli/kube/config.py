"""Standard kubeconfig files, read the way kubectl reads them, so one file serves `skiff` and kubectl.

Which files: `--kubeconfig FILE` alone when given; else every file of $KUBECONFIG (path-list separated),
merged; else ~/.kube/config. Merging follows client-go's rule: the first file to define a cluster, user or
context by name wins, and the first file to set `current-context` sets it. Which context: `--context`,
else current-context. Which namespace: `-n`, else the context's namespace, else "default".

Credentials are used where they are: certificate and key files are read by path, and `*-data` fields
(base64, as kind and kubeadm embed them) are written once to 0600 files in a private temporary folder
so the TLS library can load them, then removed at exit.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import CliError


@dataclass
class KubeConfig:
    """The merged files: maps by name, plus where each came from (for `config view` and edits)."""

    files: list[Path]
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_context: str = ""
    preferences: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "clusters": [{"cluster": v, "name": k} for k, v in self.clusters.items()],
            "contexts": [{"context": v, "name": k} for k, v in self.contexts.items()],
            "current-context": self.current_context,
            "kind": "Config",
            "preferences": self.preferences,
            "users": [{"name": k, "user": v} for k, v in self.users.items()],
        }


@dataclass
class Target:
    """Where to send requests, and as whom."""

    server: str
    namespace: str
    context: str
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    token: str = ""
    insecure: bool = False
    username: str = ""
    password: str = ""


def config_files(explicit: str | None) -> list[Path]:
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise CliError(f"error: stat {explicit}: no such file or directory")
        return [path]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _read(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise CliError(f'error: error loading config file "{path}": read {path}: is a directory')
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise CliError(f'error: error loading config file "{path}": yaml: {first}') from None
    if not isinstance(data, dict):
        raise CliError(f'error: error loading config file "{path}": not a kubeconfig (expected a mapping)')
    return data


def load(explicit: str | None = None) -> KubeConfig:
    files = config_files(explicit)
    config = KubeConfig(files=files)
    for path in files:
        data = _read(path)
        for key, inner, into in (
            ("clusters", "cluster", config.clusters),
            ("users", "user", config.users),
            ("contexts", "context", config.contexts),
        ):
            for entry in data.get(key) or []:
                name = entry.get("name", "")
                if name and name not in into:
                    into[name] = _absolute(dict(entry.get(inner) or {}), path)
        if not config.current_context and data.get("current-context"):
            config.current_context = str(data["current-context"])
        if not config.preferences and data.get("preferences"):
            config.preferences = data["preferences"]
    return config


def _absolute(section: dict[str, Any], path: Path) -> dict[str, Any]:
    """Relative file references in a kubeconfig are relative to that file, as in client-go."""
    for key in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
        value = section.get(key)
        if value and not os.path.isabs(value):
            section[key] = str((path.parent / value).resolve())
    return section


def target(
    config: KubeConfig, *, context: str | None = None, namespace: str | None = None, server: str | None = None
) -> Target:
    name = context or config.current_context
    if not name:
        if server:
            return Target(server=server, namespace=namespace or "default", context="")
        raise CliError(
            "error: no configuration has been provided, try setting KUBERNETES_MASTER environment variable"
            " (start a cluster with `skiff up`, or point --kubeconfig/KUBECONFIG at one)"
        )
    if name not in config.contexts:
        raise CliError(f'error: context "{name}" does not exist')
    ctx = config.contexts[name]
    cluster = config.clusters.get(ctx.get("cluster", ""))
    if cluster is None:
        raise CliError(f'error: cluster "{ctx.get("cluster", "")}" of context "{name}" does not exist')
    user = config.users.get(ctx.get("user", ""), {})
    found = Target(
        server=server or str(cluster.get("server", "")),
        namespace=namespace or ctx.get("namespace") or "default",
        context=name,
        ca_file=cluster.get("certificate-authority") or _data_file(cluster.get("certificate-authority-data")),
        cert_file=user.get("client-certificate") or _data_file(user.get("client-certificate-data")),
        key_file=user.get("client-key") or _data_file(user.get("client-key-data")),
        token=user.get("token") or _token_file(user.get("tokenFile")),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        username=user.get("username", ""),
        password=user.get("password", ""),
    )
    if not found.server:
        raise CliError(f'error: cluster "{ctx.get("cluster")}" has no server')
    return found


def _token_file(path: str | None) -> str:
    return Path(path).read_text().strip() if path else ""


_scratch: list[str] = []


def _data_file(data: str | None) -> str:
    if not data:
        return ""
    if not _scratch:
        _scratch.append(tempfile.mkdtemp(prefix="skiff-kube-"))
        atexit.register(shutil.rmtree, _scratch[0], True)
    fd, path = tempfile.mkstemp(dir=_scratch[0])
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64decode(data))
    return path


def first_file(config: KubeConfig) -> Path:
    """The file edits go to (`config use-context`, `set-context`): the first of the list, as kubectl."""
    return config.files[0]


def edit_file(path: Path, change: Any) -> None:
    """Apply `change(data)` to one kubeconfig file, written back 0600."""
    data = _read(path) if path.exists() else {}
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    for key in ("clusters", "contexts", "users"):
        data[key] = data.get(key) or []
    change(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
