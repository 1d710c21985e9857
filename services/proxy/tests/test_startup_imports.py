"""The proxy's start path leaves out what it does not use: aiohttp (health is served by healthz.py on
the standard library) and yaml (only a --config file needs it). A fresh interpreter per check."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["aiohttp", "yaml", "rich"])
def test_start_path_does_not_import(module: str) -> None:
    code = f"import sys, skiff_proxy.main, skiff_proxy.app; print({module!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
