"""User namespaces on a real cluster (issue #11): a pod with ``hostUsers: false`` runs as root inside
its own user namespace, which is an unprivileged host user outside: ``/proc/self/uid_map`` shows the
kubelet's non-zero host base for the pod, and a root-owned host file reached through a hostPath volume
(never idmapped) cannot be written, while its emptyDir (idmapped) and its rootfs are its own. The host's
/dev nodes are checked unchanged afterwards (see oci/stdio.py for how a runtime once changed /dev/null)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.root]

SCRIPT = (
    "echo uidmap $(cat /proc/self/uid_map); echo id $(id -u); "
    "echo x >> /host/owned 2>/dev/null && echo host-write-ok || echo host-write-denied; "
    "touch /scratch/f && echo scratch-ok; touch /mem/f && echo mem-ok; echo memfs $(stat -f -c %T /mem); "
    "SA=/var/run/secrets/kubernetes.io/serviceaccount; echo safs $(stat -f -c %T $SA) $(cat $SA/namespace); "
    "touch /rootfs-file && echo rootfs-ok; sleep 3600"
)


def _host_dev() -> dict[str, tuple[int, int, int, int, int]]:
    """(inode, mode with type, uid, gid, rdev) of the host's standard device nodes."""
    out = {}
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        st = os.lstat(f"/dev/{name}")
        out[name] = (st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_rdev)
    return out


def test_host_users_false_pod_is_root_inside_and_nobody_on_the_host(skiff, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dev_before = _host_dev()
    host = tmp_path / "host"
    host.mkdir()
    os.chmod(host, 0o755)
    (host / "owned").write_text("root's\n")
    os.chmod(host / "owned", 0o644)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "userns"},
        "spec": {
            "hostUsers": False,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "volumes": [
                {"name": "host", "hostPath": {"path": str(host)}},
                {"name": "scratch", "emptyDir": {}},
                {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            ],
            "containers": [
                {
                    "name": "c",
                    "image": "busybox:1.28",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", SCRIPT],
                    "volumeMounts": [
                        {"name": "host", "mountPath": "/host"},
                        {"name": "scratch", "mountPath": "/scratch"},
                        {"name": "mem", "mountPath": "/mem"},
                    ],
                }
            ],
        },
    }
    manifest = tmp_path / "userns.json"
    manifest.write_text(json.dumps(pod))
    try:
        skiff("apply", "-f", str(manifest))

        def logged() -> list[str] | None:
            lines = skiff("logs", "userns", check=False).stdout.splitlines()
            return lines if any(line.startswith("rootfs") for line in lines) else None

        lines = skiff.wait_for("the userns pod's output", logged, timeout=120)
        uidmap = next(line.split() for line in lines if line.startswith("uidmap"))
        inside, base, length = (int(x) for x in uidmap[1:])
        assert (inside, length) == (0, 65536) and base >= 65536, lines
        assert "id 0" in lines
        assert "host-write-denied" in lines and "host-write-ok" not in lines
        assert (host / "owned").read_text() == "root's\n"
        assert "scratch-ok" in lines and "rootfs-ok" in lines
        # tmpfs volumes through idmapped mounts: the memory emptyDir is the pod root's to write, the
        # ServiceAccount token's projected volume is a tmpfs it can read
        assert "mem-ok" in lines and "memfs tmpfs" in lines
        assert any(line.startswith("safs tmpfs") for line in lines), lines
        assert skiff.get_json("pod", "userns")["spec"]["hostUsers"] is False
        bad = dict(pod, metadata={"name": "userns-hostnet"}, spec={**pod["spec"], "hostNetwork": True})
        manifest.write_text(json.dumps(bad))
        refused = skiff("apply", "-f", str(manifest), check=False)
        assert refused.returncode != 0
        assert "spec.hostNetwork: Forbidden: when `hostUsers` is false" in refused.stdout + refused.stderr
    finally:
        skiff("delete", "pod", "userns", check=False)
    assert _host_dev() == dev_before  # nothing in the pod's life touched the host's /dev
