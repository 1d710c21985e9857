"""The runtime's start path leaves aiohttp out: the streaming server imports it when it first listens
(on the first Exec/Attach/PortForward). A fresh interpreter, since imports are process-wide."""

from __future__ import annotations

import subprocess
import sys

START_PATH = """
import sys
import skiff_runtime.main, skiff_runtime.runtime, skiff_runtime.server, skiff_runtime.metrics
from skiff_runtime.streaming.server import StreamingServer
print("aiohttp" in sys.modules)
"""


def test_start_path_does_not_import_aiohttp() -> None:
    out = subprocess.run([sys.executable, "-c", START_PATH], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
