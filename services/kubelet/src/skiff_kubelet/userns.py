"""The kubelet's user-namespace manager (KEP-127, ``hostUsers: false``): one id range per pod.

Each pod that asks for its own user namespace gets 65536 host ids of its own, mapped to container ids
0-65535 (uids and gids alike), disjoint from every other pod's on this node and from the host's first
65536 ids (where the node's real users and system accounts live). The pod's root is then host user
``base``: an unprivileged user that owns nothing on the host.

The ranges come from the kubelet's own subordinate ids, as Kubernetes finds them (it asks
``getsubids kubelet``; we read the same files): the ``kubelet`` entry of ``/etc/subuid`` and
``/etc/subgid`` (``kubelet:<first>:<count>``, both alike, multiples of 65536). Without one, Kubernetes
takes every id from 65536 up to 2^32; Skiff takes ``--max-pods`` ranges from 65536 up (110 by default:
ids 65536-7274495), as many as the node may run pods, so a node leaves the rest of the id space (other
tools' subordinate ids, LDAP users) alone. Several kubelets on one host (a multi-node ``skiff up``)
should get distinct entries, or their pods may share a range.

Like Kubernetes' userns manager the allocation lives on disk, one ``userns`` file in the pod's directory
(``<root-dir>/pods/<uid>/userns``, Kubernetes' JSON), so it survives a kubelet restart with no state
elsewhere: a pod keeps its range for its whole life (a container restarted in a new sandbox gets the same
ids, so files it wrote stay its own), the ranges in use are exactly the files present, and removing the
pod's directory when the pod is gone (``volumes.teardown``) releases its range. A new range is the lowest
free one; allocation runs without an ``await``, so two pod workers never take the same.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri

LENGTH = 65536
_MAX = 2**32
_FILE = "userns"


class UsernsError(RuntimeError):
    """No id range could be given (all taken, or the pod's file is unreadable)."""


@dataclass(frozen=True)
class PodIdRange:
    host_base: int
    length: int = LENGTH

    def mappings(self) -> list[cri.IDMapping]:
        return [cri.IDMapping(host_id=self.host_base, container_id=0, length=self.length)]

    def to_cri(self) -> cri.UserNamespace:
        return cri.UserNamespace(mode=cri.POD, uids=self.mappings(), gids=self.mappings())


def wants_userns(pod: pod_pb2.Pod) -> bool:
    return pod.spec.HasField("host_users") and not pod.spec.host_users


def subordinate_range(
    user: str = "kubelet", files: tuple[str, str] = ("/etc/subuid", "/etc/subgid"), max_pods: int = 110
) -> range:
    """The kubelet's range bases (``first .. first+count``), from its subuid/subgid entry or the default."""
    found: list[tuple[int, int]] = []
    for path in files:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            name, _, rest = line.partition(":")
            first_s, _, count_s = rest.partition(":")
            if name == user and first_s.isdigit() and count_s.isdigit():
                found.append((int(first_s), int(count_s)))
                break
    if not found:
        return range(LENGTH, LENGTH * (min(max_pods, _MAX // LENGTH - 2) + 1), LENGTH)
    if len(set(found)) != 1:
        raise UsernsError(f"the {user!r} entries of {' and '.join(files)} differ: {found}")
    first, count = found[0]
    if first % LENGTH or count % LENGTH or first < LENGTH or first + count >= _MAX:  # id 2**32-1 is invalid
        raise UsernsError(f"{user!r} subordinate ids {first}:{count}: must be multiples of {LENGTH}, above {LENGTH}")
    return range(first, first + count, LENGTH)


class UsernsManager:
    def __init__(self, root_dir: str, ids: range | None = None, max_pods: int = 110) -> None:
        self.pods_dir = Path(root_dir) / "pods"
        self._ids = ids
        self.max_pods = max_pods

    @property
    def ids(self) -> range:
        if self._ids is None:  # read once, on the first pod that needs it
            self._ids = subordinate_range(max_pods=self.max_pods)
        return self._ids

    def _file(self, uid: str) -> Path:
        return self.pods_dir / uid / _FILE

    def _read(self, path: Path) -> PodIdRange:
        try:
            raw = json.loads(path.read_text())
            uids, gids = raw["uidMappings"], raw["gidMappings"]
            base, length = int(uids[0]["hostId"]), int(uids[0]["length"])
            if (int(gids[0]["hostId"]), int(gids[0]["length"])) != (base, length) or uids[0]["containerId"] != 0:
                raise ValueError("uid and gid mappings differ")
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise UsernsError(f"{path}: unreadable user namespace mapping: {exc}") from None
        return PodIdRange(base, length)

    def in_use(self) -> dict[int, str]:
        """host base -> pod uid, for every range allocated on this node."""
        out: dict[int, str] = {}
        if not self.pods_dir.is_dir():
            return out
        for entry in self.pods_dir.iterdir():
            path = entry / _FILE
            if path.is_file():
                try:
                    out[self._read(path).host_base] = entry.name
                except UsernsError:
                    continue  # its pod cannot start (range_for says why); its range stays unknown
        return out

    def range_for(self, pod: pod_pb2.Pod) -> PodIdRange | None:
        """The pod's id range (allocated on first use), or None for a pod in the host's namespace."""
        if not wants_userns(pod):
            return None
        uid = pod.metadata.uid
        path = self._file(uid)
        if path.is_file():
            return self._read(path)
        taken = self.in_use()
        base = next((b for b in self.ids if b not in taken), None)
        if base is None:
            raise UsernsError(f"no free user namespace id range of {LENGTH} on this node ({len(taken)} in use)")
        found = PodIdRange(base)
        body = {"hostId": base, "containerId": 0, "length": LENGTH}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"uidMappings": [body], "gidMappings": [body]}))
        os.replace(tmp, path)
        return found

    def release(self, uid: str) -> None:
        """Forget the pod's range (also done by removing the pod's directory)."""
        self._file(uid).unlink(missing_ok=True)
