"""observability: JSON log shape, stdlib integration, redaction, and the /metrics endpoint."""

from __future__ import annotations

import asyncio
import logging
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from skiff_common.observability import get_logger, redact, start_metrics_server
from skiff_common.observability.logging import REDACTED, setup_logging
from skiff_common.observability.metrics import parse_host_port

from .conftest import SERVICE, Echo, LogCapture


def test_structlog_line_shape(logs: LogCapture) -> None:
    get_logger("skiff.test.shape").warning("something happened", pod="default/web", attempt=2)
    (line,) = [entry for entry in logs.lines() if entry["event"] == "something happened"]
    assert line["level"] == "warning"
    assert line["logger"] == "skiff.test.shape"
    assert line["service"] == "skiff-test"
    assert line["pod"] == "default/web" and line["attempt"] == 2
    assert line["timestamp"].endswith("Z")
    assert "trace_id" not in line  # no span is active here


def test_stdlib_logging_uses_same_renderer(logs: LogCapture) -> None:
    logging.getLogger("aetcd.client").info("connected to %s", "127.0.0.1:2379")
    (line,) = [entry for entry in logs.lines() if entry["logger"] == "aetcd.client"]
    assert line["event"] == "connected to 127.0.0.1:2379"
    assert line["level"] == "info" and line["service"] == "skiff-test"


def test_secrets_are_redacted_in_log_lines(logs: LogCapture) -> None:
    get_logger("skiff.test.redact").info(
        "login",
        password="hunter2",
        Authorization="Bearer abc",
        bootstrap_token="t0k",
        nested={"client_secret": "s", "ok": 1, "items": [{"key_data": "PEM"}]},
        secret_name="db-credentials-name",
    )
    (line,) = [entry for entry in logs.lines() if entry["event"] == "login"]
    assert line["password"] == REDACTED
    assert line["Authorization"] == REDACTED
    assert line["bootstrap_token"] == REDACTED
    assert line["nested"] == {"client_secret": REDACTED, "ok": 1, "items": [{"key_data": REDACTED}]}
    assert line["secret_name"] == "db-credentials-name"  # a reference, not a secret
    assert "hunter2" not in logs.stream.getvalue()


def test_stdlib_exceptions_render_as_text(logs: LogCapture) -> None:
    try:
        raise KeyError("boom")
    except KeyError:
        logging.getLogger("skiff.test.exc").exception("failed")
    (line,) = [entry for entry in logs.lines() if entry["event"] == "failed"]
    assert "KeyError: 'boom'" in line["exception"]


def test_secret_object_data_is_redacted() -> None:
    obj = {"kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "x"}, "string_data": {"a": "b"}}
    assert redact(obj) == {
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": REDACTED,
        "string_data": REDACTED,
    }
    assert redact({"kind": "ConfigMap", "data": {"a": "b"}}) == {"kind": "ConfigMap", "data": {"a": "b"}}


def test_bad_log_level_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="log_level: unsupported value 'loud'"):
        setup_logging("x", "loud")


@pytest.mark.parametrize("bad", ["9101", "host:port", ""])
def test_bad_metrics_address(bad: str) -> None:
    with pytest.raises(ValueError, match="metrics_address"):
        parse_host_port(bad)


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def test_metrics_endpoint_serves_grpc_counters(echo: Echo) -> None:
    await echo.unary(b"count me")
    port = start_metrics_server("127.0.0.1:0")
    assert start_metrics_server("127.0.0.1:0") == port  # idempotent per address
    body = await asyncio.to_thread(_fetch, f"http://127.0.0.1:{port}/metrics")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    labels = (("code", "OK"), ("method", "Unary"), ("service", SERVICE))
    assert ("skiff_grpc_server_handled_total", labels) in samples
    assert ("skiff_grpc_client_handled_total", labels) in samples
    assert any(name == "skiff_grpc_server_handling_seconds_bucket" for name, _ in samples)
