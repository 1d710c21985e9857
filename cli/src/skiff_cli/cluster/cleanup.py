"""Sweep away what a local cluster could leave behind after a crash.

`skiff down` first asks the runtime to remove every sandbox, which is the clean path. This module is
the safety net behind it: container supervisors still running from our state folders, mounts below the
state folder, the cluster's cgroup tree, its pod bridge, the NAT rules the CNI bridge plugin made
for its sandboxes, and a multi-node cluster's node network (nodenet.py). Each step only touches things that carry
this cluster's own names, so it never disturbs anything else on the machine.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from . import nodenet, processes
from .layout import ClusterLayout
from .probes import remove_all_sandboxes

CGROUP_ROOT = Path("/sys/fs/cgroup")
SANDBOX_ID = re.compile(r"^[0-9a-f]{64}$")


def leftover_processes(layout: ClusterLayout) -> list[int]:
    """Processes whose command line names this cluster's runtime folders: container supervisors and the
    runtime's shim factory, which outlive the runtime on purpose."""
    marks = (str(layout.runtime_root).encode(), str(layout.runtime_state).encode())
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(mark in cmdline for mark in marks):
            pids.append(int(entry.name))
    return pids


def mounts_below(folder: Path) -> list[str]:
    """Mount points at or below `folder`, deepest first."""
    prefix = str(folder.resolve()) if folder.exists() else str(folder)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def cgroup_dirs(name: str) -> list[Path]:
    """This cluster's cgroup folder in every hierarchy (v1: one per controller; v2: one)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        candidates = [CGROUP_ROOT / name]
    else:
        candidates = [hierarchy / name for hierarchy in CGROUP_ROOT.iterdir() if hierarchy.is_dir()]
    return [path for path in candidates if path.is_dir()]


def remove_cgroup_tree(top: Path) -> None:
    for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        _kill_and_rmdir(folder)
    _kill_and_rmdir(top)


def _kill_and_rmdir(folder: Path) -> None:
    procs = folder / "cgroup.procs"
    if procs.exists():
        for pid in procs.read_text().split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)  # processes still exiting


def stop_and_sweep(layout: ClusterLayout, order: Sequence[str], say: Callable[[str], None]) -> None:
    """Stop these components in this order, the runtime only after it removed every sandbox (the clean
    path: CNI DEL, unmounts), then sweep whatever is left."""
    for name in order:
        if name == "runtime" and processes.running_pid("runtime", layout.pid_dir) is not None:
            try:
                removed = asyncio.run(remove_all_sandboxes(layout.runtime_socket))
                if removed:
                    say(f"removed {removed} pod sandbox(es)")
            except Exception as exc:  # the sweep below still cleans up
                say(f"warning: could not remove sandboxes through the runtime: {exc}")
        if processes.stop(name, layout.pid_dir):
            say(f"stopped {name}")
    for line in sweep(layout):
        say(line)


def sweep(layout: ClusterLayout) -> Iterator[str]:
    pids = leftover_processes(layout)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if pids:
        yield f"stopped {len(pids)} leftover runtime process(es) (shims, the shim factory)"
    points = mounts_below(layout.state_dir)
    for point in points:
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if points:
        yield f"unmounted {len(points)} leftover mount(s)"
    cgroups = cgroup_dirs(layout.cgroup_root)
    for top in cgroups:
        remove_cgroup_tree(top)
    if cgroups:
        yield f"removed the {layout.cgroup_root} cgroup tree"
    if subprocess.run(["ip", "link", "show", layout.bridge], capture_output=True).returncode == 0:
        subprocess.run(["ip", "link", "delete", layout.bridge], check=False, capture_output=True)
        yield f"deleted bridge {layout.bridge}"
    # The node proxy's nftables table (skiff-proxy --cleanup does the same): ours only, by name.
    if subprocess.run(["nft", "list", "table", "ip", layout.proxy_table], capture_output=True).returncode == 0:
        subprocess.run(["nft", "delete", "table", "ip", layout.proxy_table], check=False, capture_output=True)
        yield f"removed nftables table {layout.proxy_table}"
    removed = remove_cni_nat_rules(sandbox_ids(layout.state_dir))
    if removed:
        yield f"removed {removed} leftover CNI NAT rule(s)"
    yield from sweep_node_network(layout)


def sweep_node_network(layout: ClusterLayout) -> Iterator[str]:
    """A worker's namespace (its pod bridge, nft table and routes go with it), its veth and the host's
    route to its pods; the control-plane node's node bridge (and the routes through it)."""
    if layout.netns:
        yield from nodenet.remove_namespace(layout.netns, layout.node_veth)
        if nodenet.remove_routes([layout.pod_cidr], layout.node_ip):
            yield f"removed the route to {layout.pod_cidr}"
    elif layout.node_cidr:
        yield from nodenet.remove_bridge(layout.node_bridge)


def sandbox_ids(state_dir: Path) -> set[str]:
    """The ids of the sandboxes the runtime kept state for below `state_dir` (run/sandboxes, run/netns)."""
    found: set[str] = set()
    for kind in ("sandboxes", "netns"):
        found.update(p.name for p in state_dir.glob(f"*/{kind}/*") if SANDBOX_ID.match(p.name))
    return found


def remove_cni_nat_rules(ids: set[str]) -> int:
    """The bridge plugin's ipMasq rules (`-A POSTROUTING ... --comment 'name: "skiff" id: "<id>"' -j
    CNI-...` and that chain) for these sandboxes: CNI DEL removes them, but not when the runtime died
    first. Only rules naming one of our sandbox ids are touched."""
    if not ids:
        return 0
    saved = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=False).stdout
    removed = 0
    for line in saved.splitlines():
        if not line.startswith("-A POSTROUTING ") or "-j CNI-" not in line:
            continue
        try:
            spec = shlex.split(line)[2:]
        except ValueError:
            continue
        comment = spec[spec.index("--comment") + 1] if "--comment" in spec else ""
        owner = re.fullmatch(r'name: "skiff" id: "([0-9a-f]{64})"', comment)
        if owner is None or owner.group(1) not in ids:
            continue
        chain = spec[spec.index("-j") + 1]
        subprocess.run(["iptables", "-t", "nat", "-D", "POSTROUTING", *spec], check=False, capture_output=True)
        subprocess.run(["iptables", "-t", "nat", "-F", chain], check=False, capture_output=True)
        subprocess.run(["iptables", "-t", "nat", "-X", chain], check=False, capture_output=True)
        removed += 1
    return removed
