"""Fixtures for the interoperability tests (root; real processes, namespaces, cgroups, CNI).

- ``images``: the busybox OCI layout (``scripts/images/build-busybox-image.py``) and the derived
  sandbox image containerd needs, with tarballs for ``ctr images import``; built once per session.
- ``skiff``: skiff-runtime as a separate process (``skiff_process.py``), busybox imported.
- ``containerd``: a private containerd 1.6 (``containerd.py``), busybox and the sandbox image imported;
  skipped when containerd/ctr/runc are not installed.
- ``cgroup_root``: a unique cgroupfs root for pod cgroups, removed at the end.

Every process fixture asserts on teardown that nothing it made survived (shims, mounts, bridge,
iptables rules naming its subnet).
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# --import-mode=importlib does not put test folders on sys.path: our helpers, and the shared
# etcd/apiserver fixtures of skiff-client's tests (skiff_cluster_fixture.py).
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "libs" / "skiff-client" / "tests"))

import containerd as containerd_mod  # noqa: E402
from cgroup_tree import remove_cgroup_tree  # noqa: E402
from skiff_process import SkiffRuntime  # noqa: E402

import images as images_mod  # noqa: E402

pytestmark = pytest.mark.root

if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("interop tests need root (namespaces, cgroups, CNI)", allow_module_level=True)


@dataclass(frozen=True)
class Images:
    busybox: Path  # OCI layout dir
    busybox_tar: Path
    sandbox: Path
    sandbox_tar: Path


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    if not Path("/bin/busybox").is_file():
        pytest.skip("busybox-static is not installed (apt-get install busybox-static)")
    out = tmp_path_factory.mktemp("interop-images")
    busybox = images_mod.build_busybox(out / "busybox")
    sandbox = images_mod.derive_image(
        busybox, out / "sandbox", ref=containerd_mod.SANDBOX_IMAGE, cmd=images_mod.SLEEP_FOREVER
    )
    return Images(
        busybox,
        images_mod.write_tar(busybox, out / "busybox.tar"),
        sandbox,
        images_mod.write_tar(sandbox, out / "sandbox.tar"),
    )


@pytest.fixture
def cgroup_root() -> Iterator[str]:
    name = f"skiff-interop-{secrets.token_hex(4)}"
    yield name
    remove_cgroup_tree(name)


@pytest.fixture
def skiff(request: pytest.FixtureRequest, tmp_path: Path, images: Images, cgroup_root: str) -> Iterator[SkiffRuntime]:
    """skiff-runtime with the executor named by indirect parametrization (default: our own).
    Depends on cgroup_root only for the teardown order: pods go before their cgroup root."""
    rt = SkiffRuntime(tmp_path / "skiff", executor=getattr(request, "param", "skiff"))
    rt.import_image(images.busybox, "busybox:latest")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()
    assert rt.leftovers() == []


@pytest.fixture
def containerd(tmp_path: Path, images: Images, cgroup_root: str) -> Iterator[containerd_mod.Containerd]:
    if not containerd_mod.installed():
        pytest.skip("containerd is not installed (apt-get install containerd: containerd, ctr, runc, shim)")
    ctd = containerd_mod.Containerd(tmp_path / "ctd")
    try:
        ctd.start()
        ctd.import_image(images.busybox_tar)
        ctd.import_image(images.sandbox_tar)
        yield ctd
    finally:
        ctd.stop()
    assert ctd.leftovers() == []
