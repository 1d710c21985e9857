"""The proxy's health endpoints on a real socket: kube-proxy's JSON body, 200 when fresh, 503 when stale."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from skiff_proxy.healthz import HealthzServer


@pytest.fixture
def state() -> Iterator[dict[str, object]]:
    yield {"synced_at": None, "healthy": False}


@pytest.fixture
def server(state: dict[str, object]) -> Iterator[HealthzServer]:
    srv = HealthzServer(
        "127.0.0.1:0",
        lambda: state["synced_at"],  # type: ignore[return-value]
        lambda now: bool(state["healthy"]),
    )
    yield srv
    srv.close()


def get(server: HealthzServer, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}") as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


@pytest.mark.parametrize("path", ["/healthz", "/livez"])
def test_unsynced_is_503_with_null_last_updated(server: HealthzServer, path: str) -> None:
    status, content_type, body = get(server, path)
    assert status == 503
    assert content_type == "application/json"
    doc = json.loads(body)
    assert doc["lastUpdated"] is None and doc["nodeEligible"] is True and doc["currentTime"] > 0


def test_healthy_is_200_with_last_sync_time(server: HealthzServer, state: dict[str, object]) -> None:
    state.update(synced_at=1234.5, healthy=True)
    status, _, body = get(server, "/healthz")
    assert status == 200
    assert json.loads(body)["lastUpdated"] == 1234.5


def test_other_paths_are_404(server: HealthzServer) -> None:
    assert get(server, "/metrics")[0] == 404
