"""The parts of a Pod's securityContext the kubelet decides, not the runtime (as Kubernetes' kuberuntime):

- seccomp: the container's ``seccompProfile`` wins over the pod's; with neither, RuntimeDefault when
  the kubelet runs with ``--seccomp-default`` and Unconfined otherwise. A Localhost profile is a path
  relative to the kubelet's seccomp directory (``<root-dir>/seccomp``); the runtime gets the absolute
  path. The runtime never filters a privileged container;
- a sandbox is privileged when any of its containers (init containers included) is, so the runtime
  lets privileged containers run in it;
- ``runAsNonRoot`` is checked at container start against the user the container will run as: its
  ``runAsUser``, else the image's user (a numeric one; a named one cannot be verified; no user at all
  is root), with Kubernetes' messages. A refusal is a CreateContainerConfigError.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri

from skiff_kubelet.env import ConfigError

_TYPES = {
    "RuntimeDefault": cri.SecurityProfile.RuntimeDefault,
    "Unconfined": cri.SecurityProfile.Unconfined,
    "Localhost": cri.SecurityProfile.Localhost,
}


def seccomp_dir(root_dir: str) -> Path:
    return Path(root_dir) / "seccomp"


def _profile(p: container_pb2.SeccompProfile, field: str, seccomp_root: Path, ctx: str) -> cri.SecurityProfile:
    if p.type not in _TYPES:
        raise ConfigError(f"{ctx}{field}.type: Unsupported value: {p.type!r} (RuntimeDefault, Unconfined, Localhost)")
    out = cri.SecurityProfile(profile_type=_TYPES[p.type])
    if p.type == "Localhost":
        rel = PurePosixPath(p.localhost_profile) if p.HasField("localhost_profile") else None
        if rel is None or not str(rel) or rel.is_absolute() or ".." in rel.parts:
            raise ConfigError(
                f"{ctx}{field}.localhostProfile: Invalid value: {p.localhost_profile!r}: "
                "must be a relative path inside the kubelet's seccomp directory"
            )
        out.localhost_ref = str(seccomp_root / rel)
    return out


def seccomp_profile(
    pod: pod_pb2.Pod, c: container_pb2.Container | None, *, seccomp_default: bool, seccomp_root: Path
) -> cri.SecurityProfile:
    """The profile for container ``c`` (None: the pod sandbox)."""
    if c is not None and c.security_context.HasField("seccomp_profile"):
        return _profile(c.security_context.seccomp_profile, "securityContext.seccompProfile", seccomp_root, "")
    psc = pod.spec.security_context
    if psc.HasField("seccomp_profile"):
        return _profile(psc.seccomp_profile, "spec.securityContext.seccompProfile", seccomp_root, "")
    kind = cri.SecurityProfile.RuntimeDefault if seccomp_default else cri.SecurityProfile.Unconfined
    return cri.SecurityProfile(profile_type=kind)


def pod_is_privileged(pod: pod_pb2.Pod) -> bool:
    return any(
        c.security_context.HasField("privileged") and c.security_context.privileged
        for c in list(pod.spec.init_containers) + list(pod.spec.containers)
    )


def _pod_ref(pod: pod_pb2.Pod) -> str:
    m = pod.metadata
    return f"{m.name}_{m.namespace}({m.uid})"


def run_as_non_root(pod: pod_pb2.Pod, c: container_pb2.Container) -> bool:
    csc, psc = c.security_context, pod.spec.security_context
    if csc.HasField("run_as_non_root"):
        return csc.run_as_non_root
    return psc.HasField("run_as_non_root") and psc.run_as_non_root


def verify_run_as_non_root(pod: pod_pb2.Pod, c: container_pb2.Container, image: cri.Image | None) -> None:
    """Raise ConfigError when runAsNonRoot is asked and the container would run as root."""
    if not run_as_non_root(pod, c):
        return
    csc, psc = c.security_context, pod.spec.security_context
    where = f'(pod: "{_pod_ref(pod)}", container: {c.name})'
    run_as = (
        csc.run_as_user if csc.HasField("run_as_user") else (psc.run_as_user if psc.HasField("run_as_user") else None)
    )
    if run_as is not None:
        if run_as == 0:
            raise ConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    uid: int | None = 0  # an image without a user runs as root
    username = ""
    if image is not None and image.HasField("uid"):
        uid = image.uid.value
    elif image is not None and image.username:
        uid, username = None, image.username
    if uid == 0:
        raise ConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if uid is None:
        raise ConfigError(
            f"container has runAsNonRoot and image has non-numeric user ({username}), "
            f"cannot verify user is non-root {where}"
        )


@dataclass(frozen=True)
class SecurityOptions:
    """The kubelet flags that harden every pod (``--seccomp-default``, ``--pod-max-pids``; ``--max-pods``
    sizes the default user-namespace id ranges, ``userns.py``)."""

    seccomp_default: bool = False
    pod_max_pids: int = -1  # -1: no pod-level limit (Kubernetes' default)
    seccomp_root: Path = Path("/var/lib/skiff/kubelet/seccomp")
    max_pods: int = 110
