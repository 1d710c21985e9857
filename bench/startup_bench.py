"""Start-up cost of each Skiff Python service: CPU seconds (user + system) and wall seconds a fresh
process spends importing its start path and setting up observability, before it serves anything.

    uv run python bench/startup_bench.py [--runs 7] [--baseline REF]

Why this measure: `skiff up --nodes N` starts three Python processes per worker (runtime, kubelet,
proxy) at once on a 2-core machine, so what limits it is the CPU those processes burn starting, not
waiting. Nearly all of that is imports (grpc, protobuf descriptors, aiohttp, opentelemetry, structlog)
and it does not need a cluster to measure: each run is a child process that imports the modules the
component's `main` imports on its way to serving (the lazy ones included), then calls
`setup_observability` as `main` does; its CPU comes from `os.wait4`'s rusage, so it counts exactly that
child. Listeners, etcd and the kernel are left out on purpose: they cost the same before and after.

With --baseline REF the same runs are made for the code of git revision REF (exported with
`git archive` into a temporary folder put first on PYTHONPATH, same interpreter and packages), runs
alternating between the two so machine noise falls on both alike; the JSON then has before, after and
the after/before ratio per component. The median of --runs is reported. Prints JSON; asserts nothing.

Bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1 and `uv sync` installs no .pyc files, so by
default every process compiles each module it imports from source, roughly half of its start-up CPU.
--bytecode measures what a deployment with compiled bytecode pays instead: the children get their own
warmed PYTHONPYCACHEPREFIX in the temporary folder (nothing is written into the source trees or .venv).
--baseline-python runs the baseline with another environment's interpreter, e.g. one synced with
`UV_PROJECT_ENVIRONMENT=/tmp/nopyc uv sync --frozen --no-compile-bytecode` to compare against the
environment as it was before uv installed bytecode.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# component -> (service name for setup_observability, modules its start path imports)
START_PATHS: dict[str, tuple[str, list[str]]] = {
    "runtime": (
        "runtime",
        ["skiff_runtime.main", "skiff_common.config", "skiff_common.grpcutil", "skiff_common.observability",
         "skiff_runtime.runtime", "skiff_runtime.server", "skiff_runtime.metrics", "prometheus_client"],
    ),
    "kubelet": ("kubelet", ["skiff_kubelet.main"]),
    "proxy": ("proxy", ["skiff_proxy.main"]),
    "apiserver": ("apiserver", ["skiff_apiserver.main", "skiff_common.grpcutil", "skiff_common.observability"]),
    "scheduler": ("scheduler", ["skiff_scheduler.main"]),
    "controllers": ("controllers", ["skiff_controllers.main"]),
}  # fmt: skip

CHILD = """
import importlib, sys
for name in sys.argv[2:]:
    importlib.import_module(name)
from skiff_common.observability import setup_observability
setup_observability(sys.argv[1], log_level="info")
"""


def run_once(
    service: str, modules: list[str], pythonpath: str | None, pycache: Path | None, python: str = sys.executable
) -> tuple[float, float]:
    """(cpu_s, wall_s) of one child process running the start path."""
    env = dict(os.environ)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # the default deployment: no collector
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    start = time.perf_counter()
    proc = subprocess.Popen([python, "-c", CHILD, service, *modules], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"startup_bench: the {service} start path failed (exit {proc.returncode})")
    return usage.ru_utime + usage.ru_stime, wall


def export_tree(ref: str, into: Path) -> str:
    """The source of `ref` under `into`; returns a PYTHONPATH with every library's and service's src."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    srcs = sorted(str(p) for p in [*into.glob("libs/*/src"), *into.glob("services/*/src")])
    return os.pathsep.join(srcs)


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "cpu_s": round(statistics.median(c for c, _ in samples), 3),
        "wall_s": round(statistics.median(w for _, w in samples), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per component and tree (median reported)")
    parser.add_argument("--baseline", help="git revision to compare against (e.g. main)")
    parser.add_argument("--baseline-python", default=sys.executable, help="interpreter for the baseline runs")
    parser.add_argument("--bytecode", action="store_true", help="use (warmed) compiled bytecode, see above")
    parser.add_argument("--only", nargs="*", default=list(START_PATHS), help="components to measure")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="skiff-startup-bench-"))
    try:
        trees: dict[str, str | None] = {"after": None}
        if args.baseline:
            trees = {"before": export_tree(args.baseline, tmp), "after": None}
        result: dict[str, object] = {"runs": args.runs, "baseline": args.baseline, "bytecode": args.bytecode}
        result["baseline_python"] = args.baseline_python if args.baseline else None
        pycache = {tree: (tmp / f"pycache-{tree}" if args.bytecode else None) for tree in trees}
        components: dict[str, object] = {}
        for name in args.only:
            service, modules = START_PATHS[name]
            samples: dict[str, list[tuple[float, float]]] = {tree: [] for tree in trees}
            python = {tree: args.baseline_python if tree == "before" else sys.executable for tree in trees}
            if args.bytecode:  # one uncounted run per tree fills its cache
                for tree, pythonpath in trees.items():
                    run_once(service, modules, pythonpath, pycache[tree], python[tree])
            for _ in range(args.runs):
                for tree, pythonpath in trees.items():  # alternate: noise falls on both trees alike
                    samples[tree].append(run_once(service, modules, pythonpath, pycache[tree], python[tree]))
            entry: dict[str, object] = {tree: summary(s) for tree, s in samples.items()}
            if args.baseline:
                before, after = entry["before"], entry["after"]
                assert isinstance(before, dict) and isinstance(after, dict)
                entry["cpu_ratio"] = round(after["cpu_s"] / before["cpu_s"], 2)
            components[name] = entry
        result["components"] = components
        node = [n for n in ("runtime", "kubelet", "proxy") if n in components]
        for tree in trees:
            total = 0.0
            for n in node:
                entry = components[n]
                assert isinstance(entry, dict)
                total += entry[tree]["cpu_s"]
            result[f"node_cpu_s_{tree}"] = round(total, 3)  # one worker's three processes
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
