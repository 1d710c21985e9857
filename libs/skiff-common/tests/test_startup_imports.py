"""What start-up does not pay for: each check runs a fresh interpreter (imports are process-wide) and
fails when a heavy module comes back onto the start path, or when a lazily loaded one stops loading
where it is needed (the OTLP exporter with an endpoint set, yaml for a --config file)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from skiff_common.observability.build_info import BuildInfo, installed_version


def run(code: str, **env: str) -> str:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    child_env.update(env)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=child_env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


SET_UP = textwrap.dedent("""
    import sys
    from skiff_common.config import load_config
    from skiff_common.grpcutil import create_channel, create_server
    from skiff_common.observability import setup_observability
    setup_observability("test", log_level="info")
""")


@pytest.mark.parametrize(
    "module",
    [
        "rich",  # structlog's optional console tracebacks; our logs are JSON
        "yaml",  # only a --config file needs it
        "importlib.metadata",  # only build_info's version label, looked up on the first scrape
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",  # only with an OTLP endpoint
    ],
)
def test_set_up_does_not_import(module: str) -> None:
    assert run(SET_UP + f"print({module!r} in sys.modules)") == "False"


def test_rich_still_importable_after_logging_set_up() -> None:
    out = run(SET_UP + "import rich; print('rich' in sys.modules)") if _has("rich") else "True"
    assert out == "True"


def test_otlp_exporter_loads_when_an_endpoint_is_set() -> None:
    code = SET_UP + "print('opentelemetry.exporter.otlp.proto.grpc.trace_exporter' in sys.modules)"
    assert run(code, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4317") == "True"


def test_config_file_still_read_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("log_level: debug\n")
    code = f"""
        import dataclasses
        from skiff_common.config import load_config
        @dataclasses.dataclass
        class C:
            log_level: str = "info"
        print(load_config(C, ["--config", {str(path)!r}]).log_level)
    """
    assert run(code) == "debug"


def test_build_info_exposes_version_label() -> None:
    registry = CollectorRegistry()
    registry.register(BuildInfo("common"))
    text = generate_latest(registry).decode()
    assert "# TYPE skiff_common_build_info gauge" in text
    assert f'skiff_common_build_info{{python_version="{sys.version.split()[0]}",version="' in text
    assert (
        registry.get_sample_value(
            "skiff_common_build_info",
            {"version": installed_version("common"), "python_version": sys.version.split()[0]},
        )
        == 1.0
    )


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
