"""Fixtures of the authorization tests: a TLS apiserver with Node,RBAC on the session's etcd."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "rest"))

from authz_testlib import SecureCluster, start_secure


@pytest.fixture
async def secure(etcd, tmp_path: Path) -> AsyncIterator[SecureCluster]:
    cluster = await start_secure(etcd.endpoint, tmp_path)
    try:
        yield cluster
    finally:
        await cluster.close()
