"""A minimal CNI 1.0 client: load a network configuration list and execute its plugins.

This is what libcni does, and only that: for ADD every plugin of the list runs in order, each getting the
previous plugin's result as `prevResult`; for DEL they run in reverse, all getting the result that ADD
produced (read from a cache file, so DEL works after a runtime restart and even if the configuration
changed meanwhile: the cache also keeps the list that was used). `runtimeConfig` is passed only for the
capabilities a plugin declares (`portMappings` for portmap). A plugin's error object becomes a
`CNIError` carrying its code and message.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")  # what the plugins we run accept
PLUGIN_TIMEOUT = 60.0


class CNIError(RuntimeError):
    def __init__(self, plugin: str, command: str, message: str, code: int = 0) -> None:
        super().__init__(f"CNI plugin {plugin} {command} failed: {message}" + (f" (code {code})" if code else ""))
        self.code = code


@dataclass(frozen=True)
class NetworkConfigList:
    name: str
    cni_version: str
    plugins: list[dict[str, Any]]
    raw: dict[str, Any]

    @classmethod
    def parse(cls, data: dict[str, Any], source: str = "") -> NetworkConfigList:
        if "plugins" not in data:  # a single .conf file is a list of one
            data = {"cniVersion": data.get("cniVersion", ""), "name": data.get("name", ""), "plugins": [data]}
        name, version = data.get("name"), data.get("cniVersion", "")
        if not name:
            raise ValueError(f"CNI config {source}: missing 'name'")
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"CNI config {source}: cniVersion {version!r} not supported ({', '.join(SUPPORTED_VERSIONS)})"
            )
        plugins = data.get("plugins") or []
        if not plugins or any(not isinstance(p, dict) or not p.get("type") for p in plugins):
            raise ValueError(f"CNI config {source}: every plugin needs a 'type'")
        return cls(name=name, cni_version=version, plugins=plugins, raw=data)

    @classmethod
    def load(cls, path: Path) -> NetworkConfigList:
        try:
            return cls.parse(json.loads(path.read_text()), str(path))
        except json.JSONDecodeError as err:
            raise ValueError(f"CNI config {path}: invalid JSON: {err}") from None


def find_config(conf_dir: Path) -> Path | None:
    """The first .conflist/.conf/.json in lexical order (libcni's rule)."""
    if not conf_dir.is_dir():
        return None
    candidates = sorted(p for p in conf_dir.iterdir() if p.suffix in (".conflist", ".conf", ".json"))
    return candidates[0] if candidates else None


def find_plugin(plugin_type: str, bin_dirs: list[Path]) -> Path | None:
    for directory in bin_dirs:
        candidate = directory / plugin_type
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass(frozen=True)
class Invocation:
    container_id: str
    netns: str
    ifname: str
    args: dict[str, str]
    runtime_config: dict[str, Any]


async def _exec_plugin(
    binary: Path, command: str, conf: dict[str, Any], inv: Invocation, bin_dirs: list[Path]
) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": inv.container_id,
        "CNI_NETNS": inv.netns,
        "CNI_IFNAME": inv.ifname,
        "CNI_ARGS": ";".join(f"{k}={v}" for k, v in inv.args.items()),
        "CNI_PATH": os.pathsep.join(str(d) for d in bin_dirs),
    }
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(conf).encode()), PLUGIN_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise CNIError(binary.name, command, f"timed out after {PLUGIN_TIMEOUT:.0f}s") from None
    if proc.returncode != 0:
        try:
            body = json.loads(out)
            raise CNIError(
                binary.name,
                command,
                f"{body.get('msg', '')} {body.get('details', '')}".strip(),
                int(body.get("code", 0)),
            )
        except (json.JSONDecodeError, AttributeError):
            raise CNIError(binary.name, command, (err or out).decode(errors="replace").strip()) from None
    return json.loads(out) if out.strip() else {}


def _plugin_conf(
    conflist: NetworkConfigList, plugin: dict[str, Any], inv: Invocation, prev: dict[str, Any] | None
) -> dict[str, Any]:
    conf = dict(plugin)
    conf["name"], conf["cniVersion"] = conflist.name, conflist.cni_version
    if prev is not None:
        conf["prevResult"] = prev
    capabilities = plugin.get("capabilities") or {}
    runtime = {k: v for k, v in inv.runtime_config.items() if capabilities.get(k)}
    if runtime:
        conf["runtimeConfig"] = runtime
    return conf


async def add(conflist: NetworkConfigList, inv: Invocation, bin_dirs: list[Path]) -> dict[str, Any]:
    """Run ADD through the chain; on failure the plugins already run are DELeted again."""
    prev: dict[str, Any] | None = None
    done: list[dict[str, Any]] = []
    try:
        for plugin in conflist.plugins:
            binary = find_plugin(plugin["type"], bin_dirs)
            if binary is None:
                raise CNIError(plugin["type"], "ADD", f"plugin binary not found in {[str(d) for d in bin_dirs]}")
            prev = await _exec_plugin(binary, "ADD", _plugin_conf(conflist, plugin, inv, prev), inv, bin_dirs)
            done.append(plugin)
    except BaseException:
        partial = NetworkConfigList(conflist.name, conflist.cni_version, done, conflist.raw)
        await delete(partial, inv, bin_dirs, prev, ignore_errors=True)
        raise
    return prev or {}


async def delete(
    conflist: NetworkConfigList,
    inv: Invocation,
    bin_dirs: list[Path],
    prev: dict[str, Any] | None,
    *,
    ignore_errors: bool = False,
) -> None:
    errors: list[str] = []
    for plugin in reversed(conflist.plugins):
        binary = find_plugin(plugin["type"], bin_dirs)
        if binary is None:
            errors.append(f"plugin {plugin['type']} not found")
            continue
        try:
            await _exec_plugin(binary, "DEL", _plugin_conf(conflist, plugin, inv, prev), inv, bin_dirs)
        except CNIError as err:
            errors.append(str(err))
    if errors and not ignore_errors:
        raise CNIError(conflist.name, "DEL", "; ".join(errors))
