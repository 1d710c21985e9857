"""Proxy tests import their helpers as `netlab`, and the real etcd + apiserver fixture of skiff-client."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "libs" / "skiff-client" / "tests"))

from skiff_cluster_fixture import apiserver, client, etcd  # noqa: F401
