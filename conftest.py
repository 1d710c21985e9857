"""Session-wide clean-up shared by every test package.

The runtime's shim factory (skiff_runtime.oci.shim.zygote) outlives the runtime on purpose, so that
containers survive a runtime restart; a test run must still leave no process behind. At the end of the
session this stops every factory whose state folder lies under this session's temporary folder. It also
removes the default `skiff` parent cgroup that runtime and kubelet tests share, but only where it is
empty: rmdir refuses a cgroup with children or processes, so a developer's running cluster is safe.
"""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest


def _factories_under(folder: Path) -> list[int]:
    mark = str(folder).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"skiff_runtime.oci.shim.zygote" in cmdline and mark in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="session", autouse=True)
def _stop_shim_factories(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    for pid in _factories_under(tmp_path_factory.getbasetemp()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for parent in Path("/sys/fs/cgroup").glob("*/skiff"):
        try:
            parent.rmdir()
        except OSError:
            pass  # not empty (a cluster is using it), or not ours to remove
    v2_parent = Path("/sys/fs/cgroup/skiff")
    if (Path("/sys/fs/cgroup") / "cgroup.controllers").exists() and v2_parent.is_dir():
        try:
            v2_parent.rmdir()
        except OSError:
            pass


@pytest.fixture(autouse=True)
def _host_dev_intact(request: pytest.FixtureRequest) -> Iterator[None]:
    """Containers get their own /dev; a mount or path mistake could instead reach the host's, and a
    broken /dev/null takes every later shell with it. Fail the test that did it, by name."""
    yield
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.fail(f"{request.node.nodeid} left the host's /dev/null as a non-device file", pytrace=False)
