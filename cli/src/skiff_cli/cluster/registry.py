"""The local cluster's image registry: Debian's `docker-registry` on 127.0.0.1 (or the node bridge's
host address in a multi-node cluster), filled by `skopeo`.

`skiff up` runs a real OCI distribution registry next to the other components, pushes the locally built
busybox image into it and writes a registry hosts configuration (containerd's `hosts.toml` layout, read
by the runtime's `--registry-config-dir`) that makes the local registry the mirror for docker.io. A pod
that names `busybox:1.36` is then pulled through the normal registry path, with no internet access.

Design decisions:
* The registry listens on 127.0.0.1, or on the node bridge's host address when workers in their own
  network namespaces must reach it, and speaks plain HTTP: it never leaves the machine (both addresses
  are the host's own or on the bridge the cluster makes), and the hosts.toml marks it `http://`
  explicitly, so nothing else is pulled insecurely.
* docker.io's `server` is the local registry too, not Docker Hub: the local cluster never reaches the
  internet, and an image that was not pushed fails with "not found" instead of a surprise download. Pass
  `upstream="https://registry-1.docker.io"` to fall back to the Hub.
* The process is started and tracked with `processes` (own session, log file, pid file checked against
  the process start time), under the name "registry", so `processes.stop("registry", pid_dir)` stops it.
* Starting is idempotent: a registry we started that still runs is reused.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import processes

NAME = "registry"
REGISTRY_BIN = "/usr/bin/docker-registry"
MIRRORED = "docker.io"


class RegistrySetupError(Exception):
    """The local registry could not be started or filled; the message says why and where to look."""


def _config(storage: Path, address: str) -> str:
    # No auth: only this machine's processes and the cluster's own namespaces can reach it. Deletes are
    # enabled so images can be replaced.
    return (
        "version: 0.1\n"
        "log: {level: info, accesslog: {disabled: false}}\n"
        f"storage: {{filesystem: {{rootdirectory: '{storage}'}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '{address}', secret: skiff-local-registry}}\n"
    )


def registry_ready(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_local_registry(
    state_dir: Path, port: int, log_dir: Path, pid_dir: Path, *, timeout: float = 20.0, host: str = "127.0.0.1"
) -> str:
    """Start docker-registry on `host`:`port` with storage in `state_dir`/registry; returns the address.
    `host` is 127.0.0.1, or a multi-node cluster's node-bridge address, which every node reaches."""
    address = f"{host}:{port}"
    if processes.running_pid(NAME, pid_dir) is not None and registry_ready(address):
        return address
    if not Path(REGISTRY_BIN).is_file():
        raise RegistrySetupError(f"{REGISTRY_BIN} is missing: apt-get install -y docker-registry")
    root = state_dir / "registry"
    (root / "storage").mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(_config(root / "storage", address))
    processes.start(NAME, [REGISTRY_BIN, "serve", str(config)], log_dir=log_dir, pid_dir=pid_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if registry_ready(address):
            return address
        if processes.running_pid(NAME, pid_dir) is None:
            break
        time.sleep(0.1)
    processes.stop(NAME, pid_dir)
    raise RegistrySetupError(f"the local registry on {address} did not start; see {log_dir / f'{NAME}.log'}")


def stop_local_registry(pid_dir: Path) -> bool:
    """Stop the registry we started; returns whether it was running."""
    return processes.stop(NAME, pid_dir)


def push_image(layout_dir: Path, registry: str, repo_tag: str) -> None:
    """Copy a single-image OCI layout to `registry`/`repo_tag` (e.g. "library/busybox:1.36") with skopeo."""
    if shutil.which("skopeo") is None:
        raise RegistrySetupError("skopeo is missing: apt-get install -y skopeo")
    if not (layout_dir / "index.json").is_file():
        raise RegistrySetupError(f"{layout_dir} is not an OCI image layout (no index.json)")
    # `oci:<dir>` without a tag: our layouts hold one image whose ref annotation is a full name, which
    # skopeo's `oci:<dir>:<tag>` would not match. --insecure-policy: we push our own local image.
    argv = ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
    result = subprocess.run(
        [*argv, f"oci:{layout_dir}", f"docker://{registry}/{repo_tag}"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RegistrySetupError(f"pushing {layout_dir} to {registry}/{repo_tag}: {result.stderr.strip()}")


def write_mirror_config(config_dir: Path, registry: str, *, upstream: str = "") -> list[Path]:
    """Write hosts.toml files so docker.io (and `registry` by its own name) are served by `registry`.

    Returns the files written. `config_dir` is what the runtime gets as --registry-config-dir."""
    mirror = f"http://{registry}"
    docker_io = (
        f"# written by skiff up: {MIRRORED} is served by the local registry\n"
        f'server = "{upstream or mirror}"\n\n'
        f'[host."{mirror}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )
    own = f'# written by skiff up: the local registry speaks plain HTTP on this machine\nserver = "{mirror}"\n'
    written = []
    for host, text in ((MIRRORED, docker_io), (registry, own)):
        path = config_dir / host / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)  # the runtime reads these on every pull: never let it see half a file
        written.append(path)
    return written
