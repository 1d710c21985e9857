"""Fixtures for executor tests (root): a busybox rootfs, config.json like the CRI layer writes,
and an ``Env`` bundling the executor with helpers. Real namespaces, cgroups and processes.

Every test gets its own state root and a unique parent cgroup ``/skiff-test-oci-<hex>``; teardown
SIGKILLs and deletes whatever containers are left, stops the state root's shim factory
(``zygote.py``), removes the parent cgroup and fails the test if anything (cgroup directory, process)
survived.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from skiff_runtime.oci.cgroups import detect_driver
from skiff_runtime.oci.executor import ContainerState, Executor, list_ids, new_executor, remove_cgroup
from skiff_runtime.oci.executor.zygote_client import stop_factory
from skiff_runtime.oci.testing import make_rootfs, write_config
from skiff_runtime.oci.wire import read_record

pytestmark = pytest.mark.root

if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("executor tests need root", allow_module_level=True)


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rootfs(tmp_path_factory.mktemp("busybox"))


@dataclass
class Env:
    executor: Executor
    state_root: Path
    rootfs: Path
    tmp: Path
    parent_cgroup: str

    def bundle(self, cid: str, args: list[str], **kw: Any) -> Path:
        return write_config(
            self.tmp / f"bundle-{cid}", self.rootfs, args, cgroups_path=f"{self.parent_cgroup}/{cid}", **kw
        )

    def log(self, cid: str) -> Path:
        return self.tmp / "logs" / f"{cid}.log"

    async def create(self, cid: str, args: list[str], **kw: Any) -> ContainerState:
        return await self.executor.create(cid, self.bundle(cid, args, **kw), log_path=self.log(cid))

    async def run(self, cid: str, args: list[str], **kw: Any) -> tuple[ContainerState, str]:
        """create + start + wait; returns the final state and the raw CRI log."""
        await self.create(cid, args, **kw)
        await self.executor.start(cid)
        state = await asyncio.wait_for(self.executor.wait(cid), 30)
        return state, self.log(cid).read_text() if self.log(cid).exists() else ""

    def stdout(self, cid: str, stream: str = "stdout") -> list[str]:
        lines = []
        for line in self.log(cid).read_text().splitlines():
            _, tag, _, content = [*line.split(" ", 3), ""][:4]
            if tag == stream:
                lines.append(content)
        return lines

    @staticmethod
    def alive(pid: int) -> bool:
        return alive(pid)

    @staticmethod
    def read(path: str) -> str:
        with open(path) as f:
            return f.read()

    @staticmethod
    def processes_with(marker: str) -> list[int]:
        """pids whose NUL-separated cmdline contains marker."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and alive(int(entry)):
                try:
                    with open(f"/proc/{entry}/cmdline") as f:
                        if marker in f.read():
                            found.append(int(entry))
                except OSError:
                    continue
        return found

    @staticmethod
    def processes_with_fd(target: Path) -> list[int]:
        """pids with an fd open on target (also once deleted): finds a shim by its shim.log, whether
        it was forked by the factory (whose command line it shares) or started as python -m ...shim."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and alive(int(entry)):
                try:
                    links = [os.readlink(f"/proc/{entry}/fd/{fd}") for fd in ("1", "2")]
                except OSError:
                    continue
                if any(link.removesuffix(" (deleted)") == str(target) for link in links):
                    found.append(int(entry))
        return found

    @staticmethod
    def processes_holding(target: Path) -> list[int]:
        """pids with target open on any fd. Unlike ``processes_with_fd`` this also finds a shim the
        factory has just forked: it holds shim.log (received from the executor) before making it its
        stdout/stderr."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and alive(int(entry)):
                try:
                    fds = os.listdir(f"/proc/{entry}/fd")
                except OSError:
                    continue  # gone
                for fd in fds:
                    try:  # one fd at a time: a process busy closing and dup'ing fds is still seen
                        link = os.readlink(f"/proc/{entry}/fd/{fd}")
                    except OSError:
                        continue
                    if link.removesuffix(" (deleted)") == str(target):
                        found.append(int(entry))
                        break
        return found

    @staticmethod
    def exists(path: str) -> bool:
        return os.path.exists(path)

    async def wait_for_output(self, cid: str, text: str) -> None:
        for _ in range(400):
            if self.log(cid).exists() and text in self.log(cid).read_text():
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"{text!r} never appeared in the log of {cid}")


async def _env(name: str, rootfs: Path, tmp_path: Path) -> AsyncIterator[Env]:
    state_root = tmp_path / "state"
    parent = f"/skiff-test-oci-{secrets.token_hex(4)}"
    executor = new_executor(name, state_root=state_root)
    e = Env(executor, state_root, rootfs, tmp_path, parent)
    yield e
    pids: list[int] = []
    try:
        for cid in list_ids(state_root):
            rec = read_record(state_root / cid)
            if rec:
                pids += [rec.pid, rec.shim_pid]
            await executor.kill(cid, signal.SIGKILL)
            await asyncio.wait_for(executor.wait(cid), 10)
            await executor.delete(cid)
    finally:
        stop_factory(state_root)  # the shim factory outlives executors by design: tests end it
    _check_cleanup(parent, pids)


@pytest.fixture(autouse=True)
def _stop_factories(tmp_path: Path) -> Iterator[None]:
    """Stop every shim factory a test started under its tmp_path (also those of executors a test
    builds itself, e.g. test_runc.py's trio): factories outlive executors by design."""
    yield
    for sock in tmp_path.glob("**/zygote.sock"):
        stop_factory(sock.parent)


@pytest.fixture
async def env(rootfs: Path, tmp_path: Path) -> AsyncIterator[Env]:
    async for e in _env("skiff", rootfs, tmp_path):
        yield e


@pytest.fixture(params=["runc", "crun"])
async def runtime_env(request: pytest.FixtureRequest, rootfs: Path, tmp_path: Path) -> AsyncIterator[Env]:
    if shutil.which(request.param) is None:
        pytest.skip(f"{request.param} is not installed (apt-get install {request.param})")
    async for e in _env(request.param, rootfs, tmp_path):
        yield e


def _check_cleanup(parent: str, pids: list[int]) -> None:
    driver = detect_driver()
    # delete() must have removed each container cgroup: only the (empty) parent may remain.
    children = [e for d in driver.files(parent) if os.path.isdir(d) for e in os.scandir(d) if e.is_dir()]
    remove_cgroup(parent)
    assert not children, f"container cgroups survived delete(): {children}"
    assert not [d for d in driver.files(parent) if os.path.exists(d)]
    assert not [p for p in pids if alive(p)], "processes survived delete()"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: it exited while we read
        return False
