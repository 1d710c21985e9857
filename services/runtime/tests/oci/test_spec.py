"""config.json validation: every bad field gets a clear error naming it (pure logic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from skiff_runtime.oci.executor import InvalidBundle, list_ids
from skiff_runtime.oci.spec import load_spec

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode


def _config(rootfs: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "root": {"path": str(rootfs)},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
    }
    for dotted, value in overrides.items():
        node = config
        keys = dotted.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return config


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"process__args": []}, "process.args"),
        ({"process__args": "sh"}, "process.args"),
        ({"process__cwd": "relative"}, "process.cwd"),
        ({"process__terminal": True}, "process.terminal"),
        ({"process__user": {"uid": -1}}, "process.user.uid"),
        ({"process__user": {"uid": 0, "additionalGids": ["x"]}}, "process.user.additionalGids[0]"),
        ({"process__capabilities": {"bounding": ["CAP_FLY"]}}, "process.capabilities.bounding[0]"),
        ({"process__rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]}, "process.rlimits[0].type"),
        ({"root__path": "/does/not/exist"}, "root.path"),
        ({"mounts": [{"destination": "relative", "type": "tmpfs"}]}, "mounts[0].destination"),
        ({"linux__namespaces": [{"type": "user"}, {"type": "mount"}]}, "linux.uidMappings"),
        ({"linux__uidMappings": [{"containerID": 0, "hostID": -1, "size": 1}]}, "linux.uidMappings[0].hostID"),
        ({"linux__gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}, "linux.uidMappings"),
        ({"linux__namespaces": [{"type": "pid"}]}, "linux.namespaces"),
        ({"linux__cgroupsPath": "../escape"}, "linux.cgroupsPath"),
        ({"linux__resources": {"memory": {"limit": "1G"}}}, "linux.resources.memory.limit"),
        ({"linux__sysctl": {"kernel.panic": "1"}}, "linux.sysctl[kernel.panic]"),
        ({"linux__sysctl": {"net.ipv4.ip_forward": "1"}}, "linux.sysctl[net.ipv4.ip_forward]"),  # host netns
        ({"linux__sysctl": {"net.ipv4.x": 1}}, "linux.sysctl[net.ipv4.x]"),
        ({"process__oomScoreAdj": 1001}, "process.oomScoreAdj"),
    ],
)
def test_invalid_config_names_the_field(tmp_path: Path, overrides: dict[str, Any], field: str) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (tmp_path / "config.json").write_text(json.dumps(_config(rootfs, **overrides)))
    with pytest.raises(InvalidBundle) as info:
        load_spec(tmp_path)
    assert info.value.field == field


def test_valid_config_round_trips(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (tmp_path / "config.json").write_text(json.dumps(_config(rootfs, process__env=["A=1"])))
    spec = load_spec(tmp_path)
    assert spec.process.args == ("sh",) and spec.root_path == str(rootfs)
    assert type(spec).from_json(spec.to_json()) == spec


async def test_create_with_bad_bundle_leaves_nothing(env: Env) -> None:
    bundle = env.bundle("bad", ["sh"])
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["user"]["uid"] = "root"
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidBundle) as info:
        await env.executor.create("bad", bundle, log_path=None)
    assert info.value.field == "process.user.uid"
    assert list_ids(env.state_root) == [] and not (env.state_root / "bad").exists()


async def test_bad_container_id(env: Env) -> None:
    with pytest.raises(InvalidBundle) as info:
        await env.executor.create("../x", env.bundle("ok", ["sh"]), log_path=None)
    assert info.value.field == "container_id"
