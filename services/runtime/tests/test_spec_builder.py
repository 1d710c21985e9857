"""The OCI spec builder: Kubernetes command/args rules, env, user, capabilities, mounts, namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import Invalid
from skiff_runtime.images.store import ImageConfig
from skiff_runtime.spec import builder, defaults
from skiff_runtime.store.sandbox import READY, SandboxRecord


def _sandbox(**kw: object) -> SandboxRecord:
    base: dict[str, object] = dict(
        id="s1",
        name="p_ns_uid_0",
        config="",
        runtime_handler="",
        state=READY,
        created_at=1,
        hostname="pod",
        host_network=False,
        host_ipc=False,
        netns_path="/run/skiff/netns/s1",
        ipc_path="/run/skiff/ipcns/s1",
        uts_path="/run/skiff/utsns/s1",
        shm_path="/run/skiff/sandboxes/s1/shm",
        cgroup_parent="/skiff/poduid",
    )
    base.update(kw)
    return SandboxRecord(**base)  # type: ignore[arg-type]


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\napp:x:1000:\nwheel:x:10:app\n")
    return tmp_path


def _build(
    rootfs: Path, config: cri.ContainerConfig, image: ImageConfig | None = None, **sandbox: object
) -> builder.BuiltSpec:
    if not config.linux.security_context.namespace_options.pid:
        config.linux.security_context.namespace_options.pid = cri.CONTAINER
    return builder.build(
        builder.SpecInputs(
            container_id="c1",
            config=config,
            image=image or ImageConfig(entrypoint=["/ep"], cmd=["def"]),
            sandbox=_sandbox(**sandbox),
            rootfs=rootfs,
            pod_files={"/etc/hosts": Path("/x/hosts")},
            cgroups_path="/skiff/poduid/c1",
            unified_cgroups=False,
        )
    )


@pytest.mark.parametrize(
    ("command", "args", "want"),
    [
        ([], [], ["/ep", "def"]),  # image Entrypoint + Cmd
        ([], ["a"], ["/ep", "a"]),  # args replace Cmd only
        (["/bin/x"], [], ["/bin/x"]),  # command replaces Entrypoint AND drops Cmd
        (["/bin/x"], ["y"], ["/bin/x", "y"]),
    ],
)
def test_command_and_args(rootfs: Path, command: list[str], args: list[str], want: list[str]) -> None:
    spec = _build(rootfs, cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"), command=command, args=args))
    assert spec.spec["process"]["args"] == want


def test_no_command_is_invalid(rootfs: Path) -> None:
    with pytest.raises(Invalid, match=r"config\.command: Required value"):
        _build(rootfs, cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c")), ImageConfig())


def test_env_user_and_defaults(rootfs: Path) -> None:
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"),
        envs=[cri.KeyValue(key="A", value="cri"), cri.KeyValue(key="B", value="2")],
    )
    built = _build(rootfs, config, ImageConfig(cmd=["x"], env=["A=image", "PATH=/bin"], user="app", working_dir="/w"))
    proc = built.spec["process"]
    assert proc["env"] == ["HOSTNAME=pod", "PATH=/bin", "A=cri", "B=2"]
    assert proc["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [10]}
    assert proc["cwd"] == "/w"
    assert proc["capabilities"]["bounding"] == defaults.DEFAULT_CAPABILITIES
    assert proc["capabilities"]["inheritable"] == []
    assert built.spec["linux"]["maskedPaths"] == defaults.MASKED_PATHS
    assert built.stop_signal == 15


def test_capabilities_add_drop(rootfs: Path) -> None:
    sc = cri.LinuxContainerSecurityContext(
        capabilities=cri.Capability(add_capabilities=["NET_ADMIN"], drop_capabilities=["KILL", "CAP_CHOWN"])
    )
    built = _build(
        rootfs,
        cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="c"),
            command=["x"],
            linux=cri.LinuxContainerConfig(security_context=sc),
        ),
    )
    caps = built.spec["process"]["capabilities"]["effective"]
    assert "CAP_NET_ADMIN" in caps and "CAP_KILL" not in caps and "CAP_CHOWN" not in caps
    sc = cri.LinuxContainerSecurityContext(
        capabilities=cri.Capability(drop_capabilities=["ALL"], add_capabilities=["NET_BIND_SERVICE"])
    )
    built = _build(
        rootfs,
        cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="c"),
            command=["x"],
            linux=cri.LinuxContainerConfig(security_context=sc),
        ),
    )
    assert built.spec["process"]["capabilities"]["bounding"] == ["CAP_NET_BIND_SERVICE"]


def test_namespaces_and_host_network(rootfs: Path) -> None:
    config = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"), command=["x"])
    ns = _build(rootfs, config).spec["linux"]["namespaces"]
    assert {"type": "network", "path": "/run/skiff/netns/s1"} in ns
    assert {"type": "pid"} in ns and {"type": "mount"} in ns
    ns = _build(rootfs, config, host_network=True, netns_path="", uts_path="").spec["linux"]["namespaces"]
    assert not any(n["type"] in ("network", "uts") for n in ns)


def test_pod_pid_namespace(rootfs: Path) -> None:
    config = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"), command=["x"])
    config.linux.security_context.namespace_options.pid = cri.POD

    def build(**sandbox: object) -> builder.BuiltSpec:
        return builder.build(
            builder.SpecInputs(
                container_id="c",
                config=config,
                image=ImageConfig(),
                sandbox=_sandbox(**sandbox),
                rootfs=rootfs,
                pod_files={},
                cgroups_path="/x",
                unified_cgroups=False,
            )
        )

    with pytest.raises(Invalid, match=r"namespace_options\.pid"):  # the sandbox has no pod PID namespace
        build()
    assert {"type": "pid", "path": "/proc/4242/ns/pid"} in build(pause_pid=4242).spec["linux"]["namespaces"]


def test_mounts(rootfs: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"),
        command=["x"],
        mounts=[
            cri.Mount(container_path="/data/sub", host_path=str(tmp_path / "data"), readonly=True),
            cri.Mount(
                container_path="/data",
                host_path=str(tmp_path / "data"),
                propagation=cri.PROPAGATION_HOST_TO_CONTAINER,
            ),
        ],
    )
    mounts = _build(rootfs, config).spec["mounts"]
    dests = [m["destination"] for m in mounts]
    assert dests.index("/data") < dests.index("/data/sub")
    assert next(m for m in mounts if m["destination"] == "/data")["options"] == ["rbind", "rslave", "rw"]
    assert next(m for m in mounts if m["destination"] == "/data/sub")["options"][-1] == "ro"
    assert next(m for m in mounts if m["destination"] == "/dev/shm")["source"] == "/run/skiff/sandboxes/s1/shm"
    assert next(m for m in mounts if m["destination"] == "/etc/hosts")["source"] == "/x/hosts"
    config.mounts.add(container_path="/missing", host_path=str(tmp_path / "nope"))
    with pytest.raises(Invalid, match=r"config\.mounts\[2\]\.host_path"):
        _build(rootfs, config)


def test_resources_and_stop_signal(rootfs: Path) -> None:
    config = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"), command=["x"], stop_signal=cri.SIGUSR1)
    config.linux.resources.cpu_shares = 512
    config.linux.resources.memory_limit_in_bytes = 64 << 20
    built = _build(rootfs, config, ImageConfig(stop_signal="SIGQUIT"))
    assert built.spec["linux"]["resources"] == {"cpu": {"shares": 512}, "memory": {"limit": 64 << 20}}
    assert built.stop_signal == 10  # the CRI field wins over the image's StopSignal
    assert (
        _build(
            rootfs,
            cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"), command=["x"]),
            ImageConfig(stop_signal="SIGQUIT"),
        ).stop_signal
        == 3
    )


def test_unknown_user_named(rootfs: Path) -> None:
    config = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"), command=["x"])
    config.linux.security_context.run_as_username = "ghost"
    with pytest.raises(Invalid, match="ghost"):
        _build(rootfs, config)


def _seccomp_config(profile: cri.SecurityProfile | None, privileged: bool = False) -> cri.ContainerConfig:
    config = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"))
    config.linux.security_context.privileged = privileged
    if profile is not None:
        config.linux.security_context.seccomp.CopyFrom(profile)
    return config


def test_seccomp_profiles(rootfs: Path, tmp_path: Path) -> None:
    default = cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault)
    spec = _build(rootfs, _seccomp_config(default)).spec
    denied = {n for rule in spec["linux"]["seccomp"]["syscalls"] for n in rule["names"]}
    assert {"mount", "umount2", "unshare", "keyctl", "bpf", "ptrace", "kexec_load", "open_by_handle_at"} <= denied
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    # absent and Unconfined: no filter; privileged: never filtered, even when RuntimeDefault is asked
    assert "seccomp" not in _build(rootfs, _seccomp_config(None)).spec["linux"]
    unconfined = cri.SecurityProfile(profile_type=cri.SecurityProfile.Unconfined)
    assert "seccomp" not in _build(rootfs, _seccomp_config(unconfined)).spec["linux"]
    assert "seccomp" not in _build(rootfs, _seccomp_config(default, privileged=True), privileged=True).spec["linux"]
    # Localhost: the node's file, as written
    local = tmp_path / "profile.json"
    local.write_text(
        '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}'
    )
    ref = cri.SecurityProfile(profile_type=cri.SecurityProfile.Localhost, localhost_ref=str(local))
    assert _build(rootfs, _seccomp_config(ref)).spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"


@pytest.mark.parametrize(
    ("ref", "content", "reason"),
    [
        ("relative.json", None, "Invalid value"),
        ("/nonexistent/p.json", None, "Not found"),
        ("", "[1]", "Invalid value"),
    ],
)
def test_bad_localhost_profile_names_the_field(
    rootfs: Path, tmp_path: Path, ref: str, content: str | None, reason: str
) -> None:
    if content is not None:
        ref = str(tmp_path / "bad.json")
        Path(ref).write_text(content)
    profile = cri.SecurityProfile(profile_type=cri.SecurityProfile.Localhost, localhost_ref=ref)
    with pytest.raises(Invalid) as err:
        _build(rootfs, _seccomp_config(profile))
    assert err.value.errors[0].path == "config.linux.security_context.seccomp.localhost_ref"
    assert err.value.errors[0].reason == reason


def test_privileged_and_add_all_get_the_capabilities_the_runtime_holds(rootfs: Path) -> None:
    from skiff_runtime.oci.caps import held_names

    config = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"))
    config.linux.security_context.capabilities.add_capabilities.append("ALL")
    assert _build(rootfs, config).spec["process"]["capabilities"]["bounding"] == held_names()
    config.linux.security_context.privileged = True
    spec = _build(rootfs, config, privileged=True).spec
    assert spec["process"]["capabilities"]["effective"] == held_names()
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert {"path": "/dev/null"}.items() <= next(
        d for d in spec["linux"]["devices"] if d["path"] == "/dev/null"
    ).items()
    assert spec["linux"]["maskedPaths"] == [] and "seccomp" not in spec["linux"]
