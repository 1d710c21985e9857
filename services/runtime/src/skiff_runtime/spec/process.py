"""The OCI `process` section: argv, environment, user and capabilities, and the stop signal.

Kubernetes' rules: `command` replaces the image Entrypoint and `args` replace its Cmd (`args` alone run
after the Entrypoint; `command` alone drops Cmd). Env is HOSTNAME, then the image's, then the CRI's, a
later value replacing an earlier one of the same name. The user is run_as_username, else
run_as_user[:run_as_group], else the image's User, resolved in the container's own /etc/passwd.
Capabilities follow containerd: a privileged container gets every capability the runtime holds;
"ALL" in add grants everything, "ALL" in drop clears, then the explicit
adds, then the explicit drops.
"""

from __future__ import annotations

import signal
from pathlib import Path

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import FieldError, Invalid

from skiff_runtime.images.store import ImageConfig
from skiff_runtime.oci.caps import held_names
from skiff_runtime.spec import defaults
from skiff_runtime.spec.user import ResolvedUser, UserError, resolve


def args(config: cri.ContainerConfig, image: ImageConfig) -> list[str]:
    if config.command:
        argv = list(config.command) + list(config.args)
    else:
        argv = list(image.entrypoint) + (list(config.args) if config.args else list(image.cmd))
    if not argv:
        raise Invalid(
            "container config is invalid",
            [
                FieldError(
                    "config.command",
                    "Required value",
                    "neither the container config nor the image specify a command",
                )
            ],
        )
    return argv


def env(config: cri.ContainerConfig, image: ImageConfig, hostname: str) -> list[str]:
    merged: dict[str, str] = {}
    entries = [f"HOSTNAME={hostname}"] if hostname else []
    entries += list(image.env) + [f"{kv.key}={kv.value}" for kv in config.envs]
    for entry in entries:
        key, _, value = entry.partition("=")
        merged.pop(key, None)  # re-insert: a replaced variable moves to where it was set last
        merged[key] = value
    if "PATH" not in merged:
        merged = {"PATH": defaults.DEFAULT_PATH.partition("=")[2], **merged}
    return [f"{k}={v}" for k, v in merged.items()]


def user(config: cri.ContainerConfig, image: ImageConfig, rootfs: Path) -> ResolvedUser:
    sc = config.linux.security_context
    try:
        if sc.run_as_username:
            user = resolve(rootfs, sc.run_as_username)
        elif sc.HasField("run_as_user"):
            group = str(sc.run_as_group.value) if sc.HasField("run_as_group") else ""
            user = resolve(rootfs, str(sc.run_as_user.value), group)
        else:
            if sc.HasField("run_as_group"):
                raise Invalid(
                    "container config is invalid",
                    [
                        FieldError(
                            "config.linux.security_context.run_as_group",
                            "Invalid value",
                            "run_as_group requires run_as_user or run_as_username",
                        )
                    ],
                )
            user = resolve(rootfs, image.user)
    except UserError as err:
        raise Invalid(
            "container config is invalid",
            [FieldError("config.linux.security_context.run_as_username", "Invalid value", str(err))],
        ) from None
    extra = [g for g in sc.supplemental_groups if g not in user.additional_gids]
    if sc.supplemental_groups_policy == cri.Strict:
        user.additional_gids = list(sc.supplemental_groups)
    else:
        user.additional_gids = user.additional_gids + extra
    return user


def capabilities(sc: cri.LinuxContainerSecurityContext) -> dict[str, list[str]]:
    if sc.privileged:
        caps = held_names()
    else:
        add = [defaults.normalize_capability(c) for c in sc.capabilities.add_capabilities]
        drop = [defaults.normalize_capability(c) for c in sc.capabilities.drop_capabilities]
        caps = list(defaults.DEFAULT_CAPABILITIES)
        if "ALL" in add:  # containerd: every capability the runtime holds, as for privileged
            caps = held_names()
        if "ALL" in drop:
            caps = []
        for cap in add:
            if cap != "ALL" and cap not in caps:
                if cap not in defaults.ALL_CAPABILITIES:
                    raise Invalid(
                        "container config is invalid",
                        [
                            FieldError(
                                "config.linux.security_context.capabilities.add_capabilities",
                                "Unsupported value",
                                cap,
                            )
                        ],
                    )
                caps.append(cap)
        caps = [c for c in caps if c not in drop]
    ambient = [defaults.normalize_capability(c) for c in sc.capabilities.add_ambient_capabilities]
    caps += [c for c in ambient if c not in caps]
    return {
        "bounding": caps,
        "effective": caps,
        "permitted": caps,
        "inheritable": ambient,
        "ambient": ambient,
    }


def stop_signal(config: cri.ContainerConfig, image: ImageConfig) -> int:
    if config.stop_signal != cri.RUNTIME_DEFAULT:
        return _signal_number(cri.Signal.Name(config.stop_signal), "config.stop_signal")
    if image.stop_signal:
        return _signal_number(image.stop_signal, "image.config.StopSignal")
    return int(signal.SIGTERM)


def _signal_number(name: str, field: str) -> int:
    if name.isdigit():
        return int(name)
    upper = name.upper()
    upper = upper if upper.startswith("SIG") else f"SIG{upper}"
    if upper.startswith("SIGRTMINPLUS"):
        return int(signal.SIGRTMIN) + int(upper.removeprefix("SIGRTMINPLUS"))
    if upper.startswith("SIGRTMAXMINUS"):
        return int(signal.SIGRTMAX) - int(upper.removeprefix("SIGRTMAXMINUS"))
    try:
        return int(getattr(signal.Signals, upper.replace("SIGCLD", "SIGCHLD").replace("SIGPOLL", "SIGIO")))
    except AttributeError:
        raise Invalid("container config is invalid", [FieldError(field, "Unsupported value", name)]) from None
