"""The local cluster's registry: hosts.toml written by the CLI as the runtime reads it, and a real
docker-registry started, filled by skopeo and stopped through the process helpers.

(The runtime is imported only here, in a test, to check the two sides agree; the CLI itself never
imports a service.)"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from skiff_cli.cluster import processes
from skiff_cli.cluster.registry import (
    RegistrySetupError,
    push_image,
    start_local_registry,
    stop_local_registry,
    write_mirror_config,
)
from skiff_runtime.images.hosts import resolve_hosts

REPO = Path(__file__).resolve().parents[2]


def test_mirror_config_round_trips_through_the_runtime_parser(tmp_path: Path) -> None:
    written = write_mirror_config(tmp_path, "127.0.0.1:5123")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "127.0.0.1:5123/hosts.toml",
        "docker.io/hosts.toml",
    ]
    hosts = resolve_hosts("docker.io", tmp_path, [])
    assert [h.api_root for h in hosts] == ["http://127.0.0.1:5123/v2", "http://127.0.0.1:5123/v2"]
    assert hosts[0].can("resolve") and hosts[0].can("pull")
    # the registry under its own name: plain HTTP without being listed in --insecure-registries
    assert [h.api_root for h in resolve_hosts("127.0.0.1:5123", tmp_path, [])] == ["http://127.0.0.1:5123/v2"]
    # other registries are untouched
    assert [h.api_root for h in resolve_hosts("quay.io", tmp_path, [])] == ["https://quay.io/v2"]
    # rewriting (a new port) replaces the files; an upstream may be kept as the fallback
    write_mirror_config(tmp_path, "127.0.0.1:6000", upstream="https://registry-1.docker.io")
    hosts = resolve_hosts("docker.io", tmp_path, [])
    assert [h.api_root for h in hosts] == ["http://127.0.0.1:6000/v2", "https://registry-1.docker.io/v2"]


def test_push_refuses_a_directory_that_is_not_a_layout(tmp_path: Path) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    with pytest.raises(RegistrySetupError, match="not an OCI image layout"):
        push_image(tmp_path, "127.0.0.1:1", "library/busybox:1.36")


def test_start_push_and_stop_a_local_registry(tmp_path: Path) -> None:
    if not Path("/usr/bin/docker-registry").is_file() or shutil.which("skopeo") is None:
        pytest.skip("docker-registry or skopeo is not installed")
    if not Path("/bin/busybox").is_file():
        pytest.skip("busybox-static is not installed")
    layout = tmp_path / "layout"
    script = REPO / "scripts/images/build-busybox-image.py"
    subprocess.run([sys.executable, str(script), str(layout)], check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pids, logs = tmp_path / "pids", tmp_path / "logs"
    try:
        address = start_local_registry(tmp_path / "state", port, logs, pids)
        assert address == f"127.0.0.1:{port}"
        pid = processes.running_pid("registry", pids)
        assert start_local_registry(tmp_path / "state", port, logs, pids) == address  # idempotent
        assert processes.running_pid("registry", pids) == pid
        push_image(layout, address, "library/busybox:1.36")
        with urllib.request.urlopen(f"http://{address}/v2/library/busybox/tags/list", timeout=5) as response:
            assert b'"1.36"' in response.read()
        assert (tmp_path / "state" / "registry" / "storage" / "docker").is_dir()
    finally:
        stop_local_registry(pids)
    assert processes.running_pid("registry", pids) is None
