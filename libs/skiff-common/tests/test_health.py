"""The health endpoints every component serves beside /metrics, answered as Kubernetes components do."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request

import pytest
from skiff_common.grpcutil.metrics import http_code, http_method
from skiff_common.observability import health
from skiff_common.observability.metrics import start_metrics_server


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


@pytest.fixture
def port() -> int:
    return start_metrics_server("127.0.0.1:0")


@pytest.fixture
def leader() -> list[bool]:
    state = [True]
    health.checks.add("leader", lambda: state[0], readiness_only=True)
    yield state
    health.checks.remove("leader")


def test_checks_pass_as_ok_and_verbose_lists_each(port: int, leader: list[bool]) -> None:
    assert _get(f"http://127.0.0.1:{port}/healthz")[:2] == (200, b"ok")
    status, body, _ = _get(f"http://127.0.0.1:{port}/readyz?verbose")
    assert status == 200
    lines = body.decode().splitlines()
    assert lines[0] == "[+]ping ok" and "[+]leader ok" in lines and lines[-1] == "readyz check passed"


def test_a_failing_readiness_check_fails_readyz_but_not_livez(port: int, leader: list[bool]) -> None:
    leader[0] = False
    status, body, _ = _get(f"http://127.0.0.1:{port}/readyz")
    assert status == 500
    assert "[-]leader failed: reason withheld" in body.decode()
    assert _get(f"http://127.0.0.1:{port}/livez")[:2] == (200, b"ok")
    assert _get(f"http://127.0.0.1:{port}/readyz?exclude=leader")[:2] == (200, b"ok")
    assert _get(f"http://127.0.0.1:{port}/readyz/leader")[0] == 500
    assert _get(f"http://127.0.0.1:{port}/livez/leader")[0] == 404  # not a liveness check


def test_a_raising_check_is_a_failing_check(port: int) -> None:
    health.checks.add("broken", lambda: 1 / 0)
    try:
        status, body, _ = _get(f"http://127.0.0.1:{port}/livez?verbose")
        assert status == 500 and "[-]broken failed" in body.decode() and b"Traceback" not in body
    finally:
        health.checks.remove("broken")


def test_other_paths_are_404_not_the_metrics_page(port: int) -> None:
    for path in ("/", "/healthz/x/y", "/nothing", "/metricsz"):
        status, body, _ = _get(f"http://127.0.0.1:{port}{path}")
        assert status == 404 and b"# HELP" not in body


def test_metrics_come_gzipped_when_asked(port: int) -> None:
    status, body, headers = _get(f"http://127.0.0.1:{port}/metrics", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    assert b"# HELP" in gzip.decompress(body)


def test_apiserver_calls_translate_to_client_gos_labels() -> None:
    assert (http_method("Create"), http_method("List"), http_method("UpdateStatus")) == ("POST", "GET", "PUT")
    assert (http_code("OK"), http_code("NOT_FOUND"), http_code("ABORTED"), http_code("WHATEVER")) == (
        "200",
        "404",
        "409",
        "500",
    )
    assert http_code("OK", "Create") == "201"
