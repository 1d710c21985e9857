"""Helpers the benchmarks share: free ports, percentiles, and the etcd + skiff-apiserver pair a benchmark
starts for itself on 127.0.0.1 and stops again.

Kept in one place so that two benchmarks never disagree on what "p99" means or how the control plane
they measure against was started. Imported as ``from _common import ...``: a benchmark runs as
``python bench/<name>.py``, which puts this folder first on sys.path.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank p-th percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_control_plane(data_dir: Path, procs: list[subprocess.Popen[bytes]]) -> str:
    """Start etcd (plain HTTP) and skiff-apiserver on free 127.0.0.1 ports, appending both to `procs` (so
    that `stop_all` removes them even when this fails half way); returns the apiserver's address."""
    endpoint, target = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    procs.append(subprocess.Popen(
        [str(BIN / "etcd"), "--data-dir", str(data_dir / "etcd"), "--listen-client-urls", f"http://{endpoint}",
         "--advertise-client-urls", f"http://{endpoint}", "--listen-peer-urls",
         f"http://127.0.0.1:{free_port()}", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    time.sleep(1.5)
    procs.append(subprocess.Popen(
        [str(BIN / "skiff-apiserver"), "--disable-admission-plugins", "ServiceAccount",  # no SA controller
         "--listen", target, "--etcd-endpoints", endpoint, "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    return target


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate in reverse start order; kill what does not exit within 10 s."""
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
