"""Shared fixtures: the busybox test image, built once per session from Debian's busybox-static."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
# --import-mode=importlib does not put test folders on sys.path; the integration tests share criharness.py.
sys.path.insert(0, str(Path(__file__).resolve().parent))
BUILD_SCRIPT = REPO / "scripts" / "images" / "build-busybox-image.py"


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not Path("/bin/busybox").is_file():
        pytest.skip("busybox-static is not installed (apt-get install busybox-static)")
    out = tmp_path_factory.mktemp("busybox") / "layout"
    subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), str(out), "--tar", str(out) + ".tar"],
        check=True,
        capture_output=True,
    )
    return out
