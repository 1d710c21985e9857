"""seccomp: the RuntimeDefault profile stops mount/unshare even with CAP_SYS_ADMIN, in the init and in
exec'd processes, under Skiff's executor and under runc/crun; no profile (Unconfined) lets them run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from skiff_runtime.oci.caps import DOCKER_DEFAULT_CAPS
from skiff_runtime.oci.errors import InvalidBundle
from skiff_runtime.spec.seccomp import runtime_default

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode

CAPS = [*DOCKER_DEFAULT_CAPS, "CAP_SYS_ADMIN"]
PROCESS = {"capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS}, "noNewPrivileges": False}
SCRIPT = (
    "mount -t tmpfs t /tmp && echo mount-ok || echo mount-denied; "
    "busybox unshare -m true && echo unshare-ok || echo unshare-denied"
)


def _linux(profile: str | None) -> dict[str, object]:
    """Extra ``linux`` keys for write_config."""
    return {} if profile is None else {"seccomp": json.loads(profile)}


@pytest.mark.parametrize("profile", ["runtime-default", "unconfined"])
async def test_runtime_default_denies_mount_and_unshare_with_sys_admin(env: Env, profile: str) -> None:
    chosen = runtime_default() if profile == "runtime-default" else None
    cid = f"sc-{profile}"
    state, log = await env.run(cid, ["sh", "-c", SCRIPT], process=PROCESS, linux=_linux(chosen))
    assert state.exit_code == 0, log
    out = env.stdout(cid)
    if profile == "runtime-default":
        assert out == ["mount-denied", "unshare-denied"]
        assert "Operation not permitted" in log
    else:
        assert out == ["mount-ok", "unshare-ok"]


async def test_exec_is_filtered_like_the_init(env: Env) -> None:
    cid = "sc-exec"
    await env.create(cid, ["sleep", "1000"], process=PROCESS, linux=_linux(runtime_default()))
    await env.executor.start(cid)
    code, out, _ = await env.executor.exec_sync(cid, ["sh", "-c", SCRIPT], timeout=20)
    assert (code, out.decode().split()) == (0, ["mount-denied", "unshare-denied"])


async def test_runc_and_crun_get_the_same_profile(runtime_env: Env) -> None:
    cid = "sc-runc"
    linux = _linux(runtime_default())
    state, log = await runtime_env.run(cid, ["sh", "-c", SCRIPT], process=PROCESS, linux=linux)
    assert state.exit_code == 0, log
    assert runtime_env.stdout(cid) == ["mount-denied", "unshare-denied"]


def test_bad_profile_is_refused_naming_the_field(env: Env) -> None:
    from skiff_runtime.oci.spec import load_spec

    linux = {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "NOPE"}]}}
    bundle = env.bundle("sc-bad", ["true"], linux=linux)
    with pytest.raises(InvalidBundle) as err:
        load_spec(bundle)
    assert err.value.field == "linux.seccomp.syscalls[0].action"
