"""The OCI executor's two sides, as the processes see them: a shim-side process loads nothing of the
daemon side, the executor registry holds the built-in implementations, and the create answer survives
its trip through the ready pipe. (``.importlinter`` checks the same boundary statically.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from skiff_runtime.oci.errors import InvalidBundle
from skiff_runtime.oci.executor import api, new_executor, register
from skiff_runtime.oci.wire import CreateReply

_LOADED = "import sys, {module}; print(json.dumps(sorted(sys.modules)))"


@pytest.mark.parametrize(
    "module",
    ["skiff_runtime.oci.shim.zygote", "skiff_runtime.oci.shim.main", "skiff_runtime.oci.shim.nsexec"],
)
def test_shim_side_processes_load_nothing_of_the_daemon_side(module: str) -> None:
    code = "import json; " + _LOADED.format(module=module)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert module in loaded
    daemon_side = [m for m in loaded if m.startswith(("skiff_runtime.oci.executor", "grpc", "skiff_common"))]
    assert daemon_side == [], f"{module} pulls in daemon-side modules: {daemon_side}"


def test_built_in_executors_are_registered() -> None:
    assert api.names() == ["crun", "runc", "skiff"]


def test_unknown_executor_names_the_registered_ones(tmp_path: Path) -> None:
    expected = r"executor: Unsupported value 'kata' \(expected one of 'crun', 'runc', 'skiff'\)"
    with pytest.raises(ValueError, match=expected):
        new_executor("kata", state_root=tmp_path)


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="'skiff' is already registered"):
        register("skiff", lambda name, state_root: new_executor("runc", state_root=state_root))


@pytest.mark.parametrize(
    "reply",
    [
        CreateReply.created(4242),
        CreateReply.created(4242, (("shim.fork_init", 10, 20), ("shim.init_setup", 20, 35))),
        CreateReply.failed(InvalidBundle("process.user.uid", "must be a non-negative integer")),
        CreateReply.failed(RuntimeError("container init failed: exec: no such file")),
        CreateReply.failed("runc create failed: exit status 1"),
    ],
    ids=["created", "created-with-phases", "invalid", "error", "error-text"],
)
def test_create_reply_round_trip(reply: CreateReply) -> None:
    assert CreateReply.decode(reply.encode()) == reply


def test_create_reply_drops_malformed_phases() -> None:
    raw = b'{"ok": true, "pid": 7, "phases": [["a", 1, 2], ["b", "x", 3], ["c", 1], 5]}'
    assert CreateReply.decode(raw) == CreateReply.created(7, (("a", 1, 2),))


def test_create_reply_invalid_bundle_keeps_field_and_reason() -> None:
    reply = CreateReply.failed(InvalidBundle("linux.namespaces[0].type", "Unsupported value: 'user'"))
    assert (reply.ok, reply.field, reply.reason, reply.error) == (
        False,
        "linux.namespaces[0].type",
        "Unsupported value: 'user'",
        "",
    )


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"ok"'], ids=["eof", "garbage", "list", "string"])
def test_no_create_reply(raw: bytes) -> None:
    """EOF (the shim crashed) or anything that is not an answer: the executor then reads shim.log."""
    assert CreateReply.decode(raw) is None
