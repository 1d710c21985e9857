"""The pod-level cgroup the kubelet names for each pod (`/<cgroup-root>/pod<uid>`), removed with the pod.

The kubelet also creates it before RunPodSandbox when it limits the pod's processes
(``--pod-max-pids``): ``pids.max`` on the pod's folder bounds every container of the pod together, so
a fork bomb exhausts its own pod's budget, not the node's (Kubernetes' pod container manager does the
same). The runtime then finds the folder already there and puts the containers below it.

The kubelet chooses the pod's cgroup parent, so it also owns its removal, as Kubernetes' pod cgroup
manager does. skiff-runtime already removes it in RemovePodSandbox; containerd leaves the empty folder
behind, so without this a node driven by containerd would collect one folder per pod ever run.
"""

from __future__ import annotations

from pathlib import Path

from skiff_common.observability import get_logger

log = get_logger("skiff_kubelet.pod_cgroups")
CGROUP_FS = Path("/sys/fs/cgroup")


def pod_cgroup_dirs(cgroup_root: str, uid: str, *, fs: Path = CGROUP_FS) -> list[Path]:
    """The pod's folder in every hierarchy: one on cgroup v2, one per controller on v1."""
    relative = Path(cgroup_root.strip("/")) / f"pod{uid}"
    if (fs / "cgroup.controllers").exists():
        return [fs / relative]
    return [hierarchy / relative for hierarchy in sorted(fs.iterdir()) if hierarchy.is_dir()]


def remove_pod_cgroup(cgroup_root: str, uid: str, *, fs: Path = CGROUP_FS) -> None:
    for top in pod_cgroup_dirs(cgroup_root, uid, fs=fs):
        if not top.is_dir():
            continue
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            _rmdir(folder)
        _rmdir(top)


def _rmdir(folder: Path) -> None:
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:  # still has processes: the runtime has not finished; the next sync retries
        log.warning("pod_cgroup.busy", path=str(folder), error=str(exc))


def limit_pod_pids(cgroup_root: str, uid: str, max_pids: int, *, fs: Path = CGROUP_FS) -> None:
    """Create the pod's folder in the pids hierarchy (v1) or the unified tree (v2), with pids.max."""
    if max_pids <= 0:
        return
    relative = Path(cgroup_root.strip("/")) / f"pod{uid}"
    unified = (fs / "cgroup.controllers").exists()
    top = fs if unified else fs / "pids"
    current = top
    for part in relative.parts:
        if unified:  # a child can use the pids controller only when its parent delegates it
            controls = (current / "cgroup.subtree_control").read_text().split()
            if "pids" not in controls:
                (current / "cgroup.subtree_control").write_text("+pids")
        current = current / part
        current.mkdir(exist_ok=True)
    (current / "pids.max").write_text(str(max_pids))
