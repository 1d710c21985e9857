"""Executor micro-benchmark: latency of create / start / wait / exec_sync / delete per executor.

    sudo uv run python bench/executor_bench.py [-n 20] [--executors skiff,skiff-python-shim,runc,crun]

Runs ``sh -c 'exit 0'``-style containers one at a time from a busybox rootfs (Debian busybox-static)
under a throw-away parent cgroup, and prints p50/p90/max per phase in milliseconds. Sequential on
purpose: it measures per-container overhead (shim start-up, namespace and rootfs setup), not
throughput of a loaded machine.

``skiff`` forks each shim from the shim factory (``oci/shim/zygote.py``; the first create of the run starts
the factory and pays one interpreter start); ``skiff-python-shim`` is the same executor forced onto the
old path (``python -m skiff_runtime.oci.shim`` per container), for a before/after in one run. ``runc``
and ``crun`` are ``RuncExecutor``: the same shims (also forked by the factory) driving those binaries.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path

from skiff_runtime.oci.executor import Executor, list_ids, new_executor, remove_cgroup
from skiff_runtime.oci.executor.skiff import SkiffExecutor
from skiff_runtime.oci.executor.zygote_client import stop_factory
from skiff_runtime.oci.testing import make_rootfs, write_config

TMPFS = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
PHASES = ("create", "start+wait", "exec_sync", "delete", "create+start+wait")


def _executor(name: str, state_root: Path) -> Executor:
    if name == "skiff-python-shim":
        return SkiffExecutor(state_root, use_zygote=False)
    return new_executor(name, state_root=state_root)


async def bench(name: str, n: int, rootfs: Path, tmp: Path) -> dict[str, list[float]]:
    parent = f"/skiff-bench-{secrets.token_hex(4)}"
    executor_root = tmp / f"state-{name}"
    executor = _executor(name, executor_root)
    times: dict[str, list[float]] = {p: [] for p in PHASES}
    try:
        for i in range(n):
            cid = f"bench-{i}"
            script = "while [ ! -e /tmp/stop ]; do sleep 0.01; done"
            bundle = write_config(
                tmp / f"{name}-{cid}",
                rootfs,
                ["sh", "-c", script],
                cgroups_path=f"{parent}/{cid}",
                extra_mounts=[TMPFS],  # the rootfs dir is shared: /tmp/stop must be per container
            )
            t0 = time.perf_counter()
            await executor.create(cid, bundle, log_path=None)
            t1 = time.perf_counter()
            await executor.start(cid)
            t2 = time.perf_counter()
            code, _, err = await executor.exec_sync(cid, ["touch", "/tmp/stop"])
            # 137: touch was still exiting when the init saw the file and ended the pid namespace.
            if code not in (0, 137):
                raise RuntimeError(f"exec_sync in {cid} failed ({code}): {err.decode(errors='replace')}")
            t3 = time.perf_counter()
            await executor.wait(cid)
            t4 = time.perf_counter()
            await executor.delete(cid)
            t5 = time.perf_counter()
            times["create"].append(t1 - t0)
            times["start+wait"].append((t2 - t1) + (t4 - t3))
            times["exec_sync"].append(t3 - t2)
            times["delete"].append(t5 - t4)
            times["create+start+wait"].append((t2 - t0) + (t4 - t3))
    finally:
        # A failed run must not leave shims, processes or cgroups behind.
        for cid in list_ids(executor_root):
            await executor.kill(cid, signal.SIGKILL)
            await executor.wait(cid)
            await executor.delete(cid)
        stop_factory(executor_root)  # it outlives executors by design; shims are gone already
        remove_cgroup(parent)
    return times


def _fmt(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"p50 {statistics.median(ms):7.1f}  p90 {p90:7.1f}  max {ms[-1]:7.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--executors", default="skiff,skiff-python-shim,runc,crun")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skiff-bench-"))
    try:
        rootfs = make_rootfs(tmp)
        for name in args.executors.split(","):
            if not name.startswith("skiff") and shutil.which(name) is None:
                print(f"{name}: not installed, skipped")
                continue
            try:
                times = await bench(name, args.n, rootfs, tmp)
            except Exception as e:  # one broken executor must not hide the others' numbers
                print(f"{name}: failed: {e}")
                continue
            print(f"{name} (n={args.n}, ms)")
            for phase in PHASES:
                print(f"  {phase:<17} {_fmt(times[phase])}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
