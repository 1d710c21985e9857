"""Runtime benchmark: skiff vs runc/crun (executor) and skiff-runtime vs containerd 1.6 + runc (CRI).

    sudo uv run python bench/runtime_bench.py [-n 20] [--pods 50] [--parts a,b,c] [--skiff-executors skiff]

One run, one machine, images already present (imported before timing starts), everything sequential
unless the part says otherwise. Prints tables; asserts nothing. Parts:

(a) executor: create+start+wait of ``/bin/true`` from the same busybox bundle through our executor
    (``SkiffExecutor``: a Python shim per container) vs ``runc run`` and ``crun run`` (which also
    delete the container: our delete is timed separately and added in the "+delete" row). The
    contenders take turns (one sample each per round, the order rotated), after one warm-up round. On a
    hybrid-cgroup host crun only runs inside a private mount namespace without /sys/fs/cgroup/unified
    (``oci/runc_cli.runtime_argv``); that wrapper (unshare + sh + umount) is part of crun's number and
    its own cost is printed as a separate row.
(b) CRI, sequential: RunPodSandbox (CNI bridge + host-local + portmap) + CreateContainer +
    StartContainer of busybox ``sleep``, against skiff-runtime (as a process, per executor) and
    against containerd 1.6 + runc with the same CNI configuration. Pods are removed after each
    sample, outside the timed region.
(c) CRI, concurrent: ``--pods`` pods started at once (one asyncio task per pod doing the three calls)
    through each runtime: wall time until all are started, and p50/p90 of a pod's own latency.

Each runtime gets its own temp dir, bridge and project-only subnet; all pods, processes, mounts,
bridges and cgroups are removed at the end (``leftovers`` are printed if any survive).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "interop"))

import grpc  # noqa: E402
from cgroup_tree import remove_cgroup_tree  # noqa: E402
from containerd import SANDBOX_IMAGE, Containerd, installed  # noqa: E402
from skiff.cri.runtime.v1 import api_pb2 as cri  # noqa: E402
from skiff.cri.runtime.v1 import api_pb2_grpc  # noqa: E402
from skiff_process import SkiffRuntime  # noqa: E402
from skiff_runtime.oci.executor import list_ids, new_executor, remove_cgroup, stop_factory  # noqa: E402
from skiff_runtime.oci.runc_cli import HYBRID_UNIFIED, needs_private_cgroup_view, runtime_argv  # noqa: E402
from skiff_runtime.oci.testing import make_rootfs, write_config  # noqa: E402

from images import SLEEP_FOREVER, build_busybox, derive_image, write_tar  # noqa: E402


def pct(samples: list[float], p: float) -> float:
    """Nearest-rank percentile, in ms."""
    ms = sorted(s * 1000 for s in samples)
    return ms[max(0, math.ceil(p / 100 * len(ms)) - 1)]


def row(name: str, samples: list[float], base: float | None = None) -> str:
    p50, p90 = statistics.median(samples) * 1000, pct(samples, 90)
    ratio = f"{p50 / base:6.2f}x" if base else "      "
    return f"  {name:<44} n={len(samples):<3} p50 {p50:8.1f}  p90 {p90:8.1f}  min {min(samples) * 1000:8.1f}  {ratio}"


# --- (a) executor -------------------------------------------------------------------------------------


def _cmd_time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}...: exit {result.returncode}: {result.stderr.decode()[-500:]}")
    return elapsed


async def part_a(n: int, tmp: Path) -> None:
    print(f"\n(a) executor: create+start+wait of /bin/true, same bundle, sequential, n={n} (ms)")
    rootfs = make_rootfs(tmp / "a")
    parent = f"/skiff-bench-{secrets.token_hex(4)}"
    results: dict[str, list[float]] = {}
    executor_root = tmp / "a" / "skiff-state"
    executor = new_executor("skiff", state_root=executor_root)

    async def skiff(cid: str) -> None:
        bundle = write_config(tmp / "a" / f"b-{cid}", rootfs, ["/bin/true"], cgroups_path=f"{parent}/{cid}")
        t0 = time.perf_counter()
        await executor.create(cid, bundle, log_path=None)
        await executor.start(cid)
        state = await executor.wait(cid)
        t1 = time.perf_counter()
        await executor.delete(cid)
        t2 = time.perf_counter()
        assert state.exit_code == 0, state
        results.setdefault("skiff executor create+start+wait", []).append(t1 - t0)
        results.setdefault("skiff executor create+start+wait+delete", []).append(t2 - t0)

    async def runtime_run(name: str, binary: str, cid: str) -> None:
        bundle = write_config(tmp / "a" / f"b-{cid}", rootfs, ["/bin/true"], cgroups_path=f"{parent}/{cid}")
        elapsed = _cmd_time(runtime_argv(binary, str(tmp / "a" / f"{name}-root"), "run", "--bundle", str(bundle), cid))
        label = f"{name} run (create+start+wait+delete)"
        if needs_private_cgroup_view(binary):
            label = f"{name} run, in private mntns w/o unified"
        results.setdefault(label, []).append(elapsed)

    contenders: list[tuple[str, Callable[[str], Awaitable[None]]]] = [("skiff", skiff)]
    for name in ("runc", "crun"):
        binary = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if binary is None:
            print(f"  {name}: not installed, skipped")
            continue
        contenders.append((name, lambda cid, name=name, binary=binary: runtime_run(name, binary, cid)))

    try:
        # Rounds, one sample of each contender per round, the order rotated every round: a load
        # change on this shared machine then hits every contender alike instead of whichever ran in
        # that stretch. Round -1 is a warm-up, not recorded (it starts the shim factory, one
        # interpreter start, and warms page caches for runc and crun alike).
        for i in range(-1, n):
            turn = contenders[i % len(contenders) :] + contenders[: i % len(contenders)]
            for name, run in turn:
                cid = f"{name}-true-{'warm' if i < 0 else i}"
                await run(cid)
            if i < 0:
                results.clear()
        # Where our time goes: every container starts a Python shim; its interpreter + imports alone.
        shim_import = [sys.executable, "-c", "import skiff_runtime.oci.shim.main"]
        results["  (skiff shim start-up alone: python + imports)"] = [_cmd_time(shim_import) for _ in range(n)]
        if needs_private_cgroup_view("crun"):  # the host is hybrid
            wrapper = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c"]
            wrapper.append(f'umount {HYBRID_UNIFIED} && exec "$0"')
            results["  (that wrapper alone: unshare+sh+umount+true)"] = [
                _cmd_time([*wrapper, "/bin/true"]) for _ in range(n)
            ]
    finally:
        for cid in list_ids(executor_root):
            await executor.kill(cid, 9)
            await executor.wait(cid)
            await executor.delete(cid)
        stop_factory(executor_root)
        remove_cgroup_tree(parent.strip("/"))
        remove_cgroup(parent)
    base = statistics.median(results["skiff executor create+start+wait+delete"]) * 1000
    print(f"  {'':<44} {'':<5} {'':>13} {'':>13} {'':>13}  vs skiff+delete")
    for name, samples in results.items():
        print(row(name, samples, base))


# --- (b), (c) CRI ---------------------------------------------------------------------------------------


def pod_configs(cgroup_root: str, log_root: Path, tag: str) -> tuple[cri.PodSandboxConfig, cri.ContainerConfig]:
    uid = uuid.uuid4().hex
    name = f"bench-{tag}-{uid[:8]}"
    ns = cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER, ipc=cri.POD)
    sandbox = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=uid, namespace="bench"),
        hostname=name,
        log_directory=str(log_root / uid),
        labels={"bench": "runtime"},
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=f"/{cgroup_root}/pod{uid}",
            security_context=cri.LinuxSandboxSecurityContext(namespace_options=ns),
        ),
    )
    container = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="main"),
        image=cri.ImageSpec(image="docker.io/library/busybox:latest"),
        command=SLEEP_FOREVER,
        log_path="main.log",
        linux=cri.LinuxContainerConfig(security_context=cri.LinuxContainerSecurityContext(namespace_options=ns)),
    )
    return sandbox, container


async def start_pod(stub: api_pb2_grpc.RuntimeServiceStub, cgroup_root: str, logs: Path, tag: str) -> float:
    sandbox, container = pod_configs(cgroup_root, logs, tag)
    t0 = time.perf_counter()
    pod_id = (await stub.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox), timeout=300)).pod_sandbox_id
    request = cri.CreateContainerRequest(pod_sandbox_id=pod_id, config=container, sandbox_config=sandbox)
    cid = (await stub.CreateContainer(request, timeout=300)).container_id
    await stub.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=300)
    return time.perf_counter() - t0


async def remove_pods(stub: api_pb2_grpc.RuntimeServiceStub) -> None:
    for sb in (await stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=60)).items:
        await stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sb.id), timeout=300)
        await stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sb.id), timeout=300)


async def bench_runtime(endpoint: str, n: int, pods: int, parts: str, cgroup_root: str, logs: Path) -> dict:
    out: dict[str, object] = {}
    async with grpc.aio.insecure_channel(endpoint) as ch:
        stub = api_pb2_grpc.RuntimeServiceStub(ch)
        await start_pod(stub, cgroup_root, logs, "warm")  # first pod pays one-time costs (bridge creation)
        await remove_pods(stub)
        if "b" in parts:
            seq = []
            for i in range(n):
                seq.append(await start_pod(stub, cgroup_root, logs, f"s{i}"))
                await remove_pods(stub)
            out["b"] = seq
        if "c" in parts:
            t0 = time.perf_counter()
            each = await asyncio.gather(*(start_pod(stub, cgroup_root, logs, f"c{i}") for i in range(pods)))
            wall = time.perf_counter() - t0
            t1 = time.perf_counter()
            await remove_pods(stub)
            out["c"] = (wall, list(each), time.perf_counter() - t1)
    return out


def with_runtime(name: str, starter: Callable[[], tuple[str, Callable[[], list[str]], Callable[[], None]]],
                 n: int, pods: int, parts: str, tmp: Path) -> dict | None:  # fmt: skip
    cgroup_root = f"skiff-bench-{secrets.token_hex(4)}"
    try:
        endpoint, leftovers, stop = starter()
    except Exception as e:
        print(f"  {name}: could not start: {e}")
        return None
    try:
        return asyncio.run(bench_runtime(endpoint, n, pods, parts, cgroup_root, tmp / f"logs-{name}"))
    finally:
        stop()
        remove_cgroup_tree(cgroup_root)
        if left := leftovers():
            print(f"  {name}: LEFT BEHIND: {left}")


def parts_bc(n: int, pods: int, parts: str, executors: list[str], tmp: Path) -> None:
    images = tmp / "images"
    busybox = build_busybox(images / "busybox")
    results: dict[str, dict] = {}
    for executor in executors:

        def start_skiff(executor: str = executor) -> tuple[str, Callable[[], list[str]], Callable[[], None]]:
            rt = SkiffRuntime(tmp / f"skiff-{executor}", executor=executor)
            rt.import_image(busybox, "busybox:latest")
            rt.start()
            return rt.endpoint, rt.leftovers, rt.stop

        res = with_runtime(f"skiff-runtime/{executor}", start_skiff, n, pods, parts, tmp)
        if res is not None:
            results[f"skiff-runtime (executor {executor})"] = res
    if installed():
        sandbox = derive_image(busybox, images / "sandbox", ref=SANDBOX_IMAGE, cmd=SLEEP_FOREVER)
        tars = [write_tar(busybox, images / "busybox.tar"), write_tar(sandbox, images / "sandbox.tar")]

        def start_containerd() -> tuple[str, Callable[[], list[str]], Callable[[], None]]:
            ctd = Containerd(tmp / "containerd")
            try:
                ctd.start()
                for tar in tars:
                    ctd.import_image(tar)
            except BaseException:
                ctd.stop()
                raise
            return ctd.endpoint, ctd.leftovers, ctd.stop

        res = with_runtime("containerd", start_containerd, n, pods, parts, tmp)
        if res is not None:
            results["containerd 1.6 + runc"] = res
    else:
        print("  containerd: not installed, skipped")
    ref = "containerd 1.6 + runc"
    if "b" in parts:
        print(f"\n(b) CRI RunPodSandbox(CNI)+CreateContainer+StartContainer, sequential, n={n} (ms)")
        base = statistics.median(results[ref]["b"]) * 1000 if ref in results else None
        print(f"  {'':<44} {'':<5} {'':>13} {'':>13} {'':>13}  vs containerd")
        for name, res in results.items():
            print(row(name, res["b"], base))
    if "c" in parts:
        print(f"\n(c) {pods} pods started concurrently (ms; wall = until all started; per pod = its 3 calls)")
        for name, res in results.items():
            wall, each, teardown = res["c"]
            print(f"  {name:<44} wall {wall * 1000:8.1f}  per pod p50 {statistics.median(each) * 1000:8.1f}"
                  f"  p90 {pct(each, 90):8.1f}  (teardown, sequential: {teardown * 1000:.0f})")  # fmt: skip


def versions() -> str:
    def first_line(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "absent"

    return "; ".join(
        [
            f"kernel {platform.release()}",
            f"python {platform.python_version()}",
            first_line(["runc", "--version"]),
            first_line(["crun", "--version"]),
            first_line(["containerd", "--version"]),
            f"cgroups {'v2' if os.path.exists('/sys/fs/cgroup/cgroup.controllers') else 'v1'}"
            + (" hybrid" if os.path.ismount(HYBRID_UNIFIED) else ""),
            f"cpus {os.cpu_count()}",
        ]
    )


def precompile() -> str:
    """Byte-compile skiff_runtime once, as an installed package would be. Without it, and with
    PYTHONDONTWRITEBYTECODE set (as in some CI/sandbox environments), every shim recompiles ~20 modules
    from source on each container start, which measures the environment rather than the executor."""
    import compileall

    import skiff_runtime

    ok = compileall.compile_dir(Path(skiff_runtime.__file__).parent, quiet=1)
    return f"skiff_runtime byte-compiled: {'yes' if ok else 'FAILED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="samples per sequential measurement")
    parser.add_argument("--pods", type=int, default=50, help="pods started concurrently in part (c)")
    parser.add_argument("--parts", default="a,b,c")
    parser.add_argument("--skiff-executors", default="skiff", help="executors of skiff-runtime for (b), (c)")
    parser.add_argument("--no-compile", action="store_true", help="do not byte-compile skiff_runtime first")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("runtime_bench needs root")
    print(versions())
    if not args.no_compile:
        print(precompile())
    print(f"load average at start: {os.getloadavg()}")
    tmp = Path(tempfile.mkdtemp(prefix="skiff-rtbench-"))
    try:
        if "a" in args.parts:
            asyncio.run(part_a(args.n, tmp))
        if "b" in args.parts or "c" in args.parts:
            parts_bc(args.n, args.pods, args.parts, args.skiff_executors.split(","), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
