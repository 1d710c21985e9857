"""config.py: precedence, conversions, file validation and redaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from skiff_common.config import ConfigError, describe_config, load_config
from skiff_common.observability.logging import REDACTED


@dataclass
class Cfg:
    """Test component."""

    listen: str = field(default="127.0.0.1:6443", metadata={"help": "address to listen on"})
    port: int = 0
    ratio: float = 0.5
    debug: bool = False
    endpoints: list[str] = field(default_factory=lambda: ["http://127.0.0.1:2379"])
    data_dir: Path = Path("/var/lib/skiff")
    token: str = ""
    join_key: str | None = field(default=None, metadata={"secret": True})
    mode: Literal["dev", "prod"] = "dev"
    node_name: str | None = None


def load(argv: list[str] | None = None, env: dict[str, str] | None = None) -> Cfg:
    return load_config(Cfg, argv or [], env=env or {}, exit_on_error=False)


def test_defaults() -> None:
    cfg = load()
    assert cfg == Cfg()


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    conf = tmp_path / "skiff.yaml"
    conf.write_text("listen: file:1\nport: 1\nratio: 0.25\n")
    env = {"SKIFF_CONFIG": str(conf), "SKIFF_LISTEN": "env:2", "SKIFF_PORT": "2"}
    cfg = load(["--listen", "flag:3"], env)
    assert cfg.listen == "flag:3"  # flag beats env and file
    assert cfg.port == 2  # env beats file
    assert cfg.ratio == 0.25  # file beats default
    assert cfg.debug is False  # default
    assert load(["--config", str(conf)]).listen == "file:1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("TRUE", True), ("no", False)],
)
def test_bools_from_env_and_flag(raw: str, expected: bool) -> None:
    assert load(env={"SKIFF_DEBUG": raw}).debug is expected
    assert load([f"--debug={raw}"]).debug is expected


def test_bool_flag_forms() -> None:
    assert load(["--debug"]).debug is True
    assert load(["--no-debug"], {"SKIFF_DEBUG": "true"}).debug is False


def test_lists_from_env_flag_and_file(tmp_path: Path) -> None:
    assert load(env={"SKIFF_ENDPOINTS": "a:1, b:2,,c:3"}).endpoints == ["a:1", "b:2", "c:3"]
    assert load(["--endpoints", "a,b", "--endpoints", "c"]).endpoints == ["a", "b", "c"]
    conf = tmp_path / "c.yaml"
    conf.write_text("endpoints: [x, y]\n")
    assert load(["--config", str(conf)]).endpoints == ["x", "y"]


def test_paths_literals_optionals(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("data-dir: /tmp/skiff\nnode_name: null\nmode: prod\n")
    cfg = load(["--config", str(conf)])
    assert cfg.data_dir == Path("/tmp/skiff") and cfg.node_name is None and cfg.mode == "prod"


def test_unknown_file_key_is_rejected_by_name(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("listen: x\nlisten_adress: typo\n")
    with pytest.raises(ConfigError, match="unknown key 'listen_adress'"):
        load(["--config", str(conf)])


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--port", "abc"], {}, r"--port: invalid value 'abc' \(expected int\)"),
        ([], {"SKIFF_DEBUG": "maybe"}, r"env SKIFF_DEBUG: invalid value 'maybe' \(expected bool\)"),
        (["--mode", "staging"], {}, r"--mode: invalid value 'staging' \(expected one of dev, prod\)"),
        (["--bogus"], {}, r"unrecognized arguments: --bogus"),
        (["--config", "/nonexistent/skiff.yaml"], {}, r"--config: cannot read /nonexistent/skiff.yaml"),
    ],
)
def test_bad_values_name_the_setting(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(argv, env)


def test_bad_file_value_names_file_and_key(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("port: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"config file .*c.yaml: key 'port': invalid value"):
        load(["--config", str(conf)])
    conf.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load(["--config", str(conf)])


@dataclass
class Required:
    node_name: str
    pod_cidr: str = "10.244.0.0/16"


def test_required_setting_missing() -> None:
    with pytest.raises(ConfigError, match="--node-name: required setting is missing"):
        load_config(Required, [], env={}, exit_on_error=False)
    assert load_config(Required, [], env={"X_NODE_NAME": "n1"}, env_prefix="X_", exit_on_error=False).node_name == "n1"


def test_describe_config_redacts_secrets() -> None:
    cfg = load(["--token", "abc", "--join-key", "k"])
    described = describe_config(cfg)
    assert described["token"] == REDACTED  # secret-looking name
    assert described["join_key"] == REDACTED  # metadata secret=True
    assert described["data_dir"] == "/var/lib/skiff"
    assert described["listen"] == "127.0.0.1:6443"
    assert describe_config(load())["token"] == ""  # unset secrets stay visible as unset


def test_cli_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        from dataclasses import dataclass
        from skiff_common.config import load_config

        @dataclass
        class C:
            port: int = 1

        load_config(C, prog="skiff-test")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "--port", "x"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "skiff-test: error: --port: invalid value 'x' (expected int)"


@dataclass
class Percent:
    """A component whose help and default hold a literal %."""

    threshold: str = field(default="nodefs.available<10%", metadata={"help": "e.g. 10% of the disk"})


def test_help_with_a_percent_sign(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_config(Percent, ["--help"], env={})
    out = capsys.readouterr().out
    assert "e.g. 10% of the disk" in out and "nodefs.available<10%" in out
