"""Fixtures for the real-registry tests: Debian's docker-registry on 127.0.0.1, filled by skopeo."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realregistry import RealRegistry, make_cert, start_registry
from tokenserver import TokenServer

BUSYBOX = "library/busybox"


@pytest.fixture(scope="session")
def registry_tools() -> None:
    for tool in ("/usr/bin/docker-registry", "skopeo", "openssl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing (apt-get install -y docker-registry skopeo openssl)")


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory, registry_tools: None) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("registry-tls"))


@pytest.fixture
def start_reg(tmp_path: Path, registry_tools: None) -> Iterator[Callable[..., RealRegistry]]:
    """A factory: start_reg(user=, password=, tls=) -> a running registry, stopped after the test."""
    started: list[RealRegistry] = []

    def start(**kwargs: object) -> RealRegistry:
        registry = start_registry(tmp_path / f"registry{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(registry)
        return registry

    yield start
    for registry in started:
        registry.stop()


@pytest.fixture
def registry(start_reg: Callable[..., RealRegistry], busybox_layout: Path) -> RealRegistry:
    """A plain-HTTP registry holding library/busybox:1.36 (OCI manifest)."""
    reg = start_reg()
    reg.push(busybox_layout, f"{BUSYBOX}:1.36")
    return reg


@pytest.fixture
def token_server(tls_cert: tuple[Path, Path]) -> Iterator[TokenServer]:
    """A token service (user skiff, password t0ken-pass) that the registry trusts via tls_cert."""
    server = TokenServer(tls_cert[0], tls_cert[1], "skiff", "t0ken-pass")
    yield server
    server.close()
