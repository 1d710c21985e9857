"""A private Docker daemon for the tests that build and run images (tests/compose, tests/helm).

Started with `--bridge=none --iptables=false`: Docker's own networks use address ranges this project
must not touch, and everything here uses the host's network only. Its images are kept between runs in
one data root (building the base image takes minutes); the daemon itself is not.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from polling import wait_for
from skiff_cli.cluster.cleanup import mounts_below

DOCKER_ROOT = Path(os.environ.get("SKIFF_COMPOSE_DOCKER_ROOT", "/var/tmp/skiff-compose-docker"))


def run(*argv: str, env: dict[str, str], timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
    return result


def wait(what: str, check, timeout: float = 300.0):  # type: ignore[no-untyped-def]
    """`check()` until it returns something true; its errors (a service not up yet) count as not yet."""
    return wait_for(
        what, check, timeout, interval=1, tolerate=(OSError, AssertionError, json.JSONDecodeError, ssl.SSLError)
    )


@contextmanager
def private_dockerd(
    run_dir: Path, tools: tuple[str, ...], env: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """A dockerd on its own socket in `run_dir`; yields the environment that points docker at it."""
    for tool in ("dockerd", "docker", *tools):
        assert shutil.which(tool), f"{tool} is missing: run scripts/install-deps.sh --compose"
    sock = run_dir / "docker.sock"
    daemon = subprocess.Popen(
        [
            *("dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false"),
            f"--data-root={DOCKER_ROOT}",
            f"--exec-root={run_dir / 'exec'}",
            f"--pidfile={run_dir / 'docker.pid'}",
            f"--host=unix://{sock}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(run_dir / "dockerd.log", "w"),
    )
    docker_env = {**os.environ, **(env or {}), "DOCKER_HOST": f"unix://{sock}"}
    try:
        deadline = time.monotonic() + 60
        while run("docker", "info", env=docker_env, check=False).returncode != 0:
            assert time.monotonic() < deadline, (run_dir / "dockerd.log").read_text()[-2000:]
            time.sleep(0.5)
        yield docker_env
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        for point in mounts_below(run_dir):  # dockerd leaves its netns handle mounted in its exec-root
            subprocess.run(["umount", "-l", point], check=False)
