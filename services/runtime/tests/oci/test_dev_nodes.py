"""A container's /dev never lets it change the host's device nodes.

``_populate_dev`` makes the standard nodes in the container's own tmpfs; without ``CAP_MKNOD`` (a nested
runtime) it binds the host's nodes instead, read-only, so writing to ``/dev/null`` works but a chmod or
chown of it fails with EROFS instead of changing the host's node. Run in a child in a private mount
namespace (``unshare -m``), with mknod refused as it is without ``CAP_MKNOD``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
if os.geteuid() != 0 or not shutil.which("unshare"):  # pragma: no cover
    pytest.skip("needs root and unshare", allow_module_level=True)

CHILD = """
import errno, os, sys
from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.shim import rootfs

dev = sys.argv[1]
sc.mount("", "/", None, sc.MS_PRIVATE | sc.MS_REC)
sc.mount("tmpfs", dev, "tmpfs", 0, "mode=755")

def no_mknod(*args, **kwargs):
    raise PermissionError(errno.EPERM, "mknod refused")

os.mknod = no_mknod
rootfs._populate_dev(dev)
with open(f"{dev}/null", "w") as f:
    f.write("discarded")
st = os.stat(f"{dev}/null")  # chmod/chown to what it already is: a no-op on the host if ever allowed
changes = (lambda: os.chmod(f"{dev}/null", st.st_mode & 0o7777), lambda: os.chown(f"{dev}/null", st.st_uid, st.st_gid))
for change in changes:
    try:
        change()
    except OSError as e:
        print("refused", errno.errorcode[e.errno])
    else:
        print("changed")
"""


def _state(path: str) -> tuple[int, int, int, int, int]:
    st = os.lstat(path)
    return (st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_rdev)


def test_bound_host_nodes_are_read_only(tmp_path: Path) -> None:
    before = {name: _state(f"/dev/{name}") for name in ("null", "zero", "full", "random", "urandom", "tty")}
    dev = tmp_path / "dev"
    dev.mkdir()
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", CHILD, str(dev)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["refused EROFS", "refused EROFS"], proc.stdout
    after = {name: _state(f"/dev/{name}") for name in before}
    assert after == before
    assert not os.path.ismount(dev) and not list(dev.iterdir())  # the tmpfs lived in the child's namespace
