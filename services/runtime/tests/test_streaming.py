"""CRI streaming end to end: Exec/Attach/PortForward URLs from the real server, used by an independent
WebSocket client (aiohttp's), against a real busybox pod on the real executor and CNI network.

One pod serves the whole module (a pod start costs more than most of these tests). Traffic goes only to
the streaming server on 127.0.0.1 and to 127.0.0.1 inside the pod's own network namespace.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import shutil
import struct
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import pytest_asyncio
from criharness import Harness, cri_server
from skiff.cri.runtime.v1 import api_pb2 as cri

pytestmark = [pytest.mark.root, pytest.mark.asyncio(loop_scope="module")]
URL = re.compile(r"^http://127\.0\.0\.1:(\d+)/(exec|attach|portforward)/([A-Za-z0-9_-]{16,})$")
WWW = "hello-from-pod"


@dataclass
class Pod:
    h: Harness
    sid: str
    cid: str
    config: cri.PodSandboxConfig


def container_config(name: str, command: list[str]) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image="busybox"),
        command=command,
        log_path=f"{name}/0.log",
        linux=cri.LinuxContainerConfig(
            security_context=cri.LinuxContainerSecurityContext(namespace_options=cri.NamespaceOption(pid=cri.CONTAINER))
        ),
    )


async def start_container(pod: Pod, name: str, command: list[str]) -> str:
    rs = pod.h.runtime_stub
    cid = (
        await rs.CreateContainer(
            cri.CreateContainerRequest(
                pod_sandbox_id=pod.sid, sandbox_config=pod.config, config=container_config(name, command)
            )
        )
    ).container_id
    await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
    return cid


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pod(tmp_path_factory: pytest.TempPathFactory, busybox_layout: Path) -> AsyncIterator[Pod]:
    tmp = tmp_path_factory.mktemp("streaming")
    async with cri_server(tmp, busybox_layout) as h:
        config = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(
                name="streaming", namespace="default", uid=f"uid-streaming-{secrets.token_hex(4)}"
            ),
            hostname="streaming",
            log_directory=str(tmp / "logs"),
        )
        sid = (await h.runtime_stub.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
        p = Pod(h, sid, "", config)
        # an HTTP server on the pod's loopback only: reachable through port-forward and nothing else
        p.cid = await start_container(
            p,
            "main",
            [
                "sh",
                "-c",
                f"mkdir -p /www && echo {WWW} > /www/index.html && httpd -p 127.0.0.1:8080 -h /www "
                "&& echo booted && exec sleep 100000",
            ],
        )
        try:
            yield p
        finally:
            await h.runtime.stop()


# -- an independent client ----------------------------------------------------------------------------


@dataclass
class Session:
    protocol: str | None
    frames: list[tuple[int, bytes]] = field(default_factory=list)

    def data(self, channel: int) -> bytes:
        return b"".join(d for c, d in self.frames if c == channel)

    def status(self) -> dict[str, Any]:
        return json.loads(self.data(3))  # type: ignore[no-any-return]


async def stream(
    url: str,
    send: Sequence[tuple[int, bytes]] = (),
    protocols: Sequence[str] = ("v5.channel.k8s.io", "v4.channel.k8s.io"),
) -> Session:
    """Connect, send the frames, then read until the server closes."""
    async with aiohttp.ClientSession() as http, http.ws_connect(url, protocols=protocols) as ws:
        session = Session(ws.protocol)
        for channel, data in send:
            await ws.send_bytes(bytes([channel]) + data)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                session.frames.append((msg.data[0], msg.data[1:]))
        return session


async def exec_url(
    pod: Pod, cmd: list[str], *, tty: bool = False, stdin: bool = False, stdout: bool = False, stderr: bool = False
) -> str:
    req = cri.ExecRequest(container_id=pod.cid, cmd=cmd, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr)
    return (await pod.h.runtime_stub.Exec(req)).url


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


# -- exec ---------------------------------------------------------------------------------------------


async def test_exec_streams_stdout_stderr_and_exit_code(pod: Pod) -> None:
    url = await exec_url(pod, ["sh", "-c", "echo out; echo err >&2; exit 3"], stdout=True, stderr=True)
    assert URL.match(url), url
    s = await stream(url)
    assert s.protocol == "v5.channel.k8s.io"
    assert (s.data(1), s.data(2)) == (b"out\n", b"err\n")
    status = s.status()
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


async def test_exec_success_status_and_v4(pod: Pod) -> None:
    url = await exec_url(pod, ["sh", "-c", "echo $HOSTNAME"], stdout=True)
    s = await stream(url, protocols=["v4.channel.k8s.io"])
    assert s.protocol == "v4.channel.k8s.io"
    assert s.data(1) == b"streaming\n"
    assert s.status() == {"metadata": {}, "status": "Success"}


async def test_exec_large_output_and_base64_framing(pod: Pod) -> None:
    url = await exec_url(pod, ["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"], stdout=True)
    s = await stream(url)
    assert s.data(1) == b"x" * 3_000_000
    url = await exec_url(pod, ["sh", "-c", "echo text; exit 2"], stdout=True)
    async with aiohttp.ClientSession() as http, http.ws_connect(url, protocols=["v4.base64.channel.k8s.io"]) as ws:
        assert ws.protocol == "v4.base64.channel.k8s.io"
        texts = [m.data async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
    decoded = [(t[0], base64.b64decode(t[1:])) for t in texts]
    assert ("1", b"text\n") in decoded
    status = json.loads(next(d for c, d in decoded if c == "3"))
    assert status["details"]["causes"][0]["message"] == "2"


async def test_exec_stdin_through_cat(pod: Pod) -> None:
    url = await exec_url(pod, ["cat"], stdin=True, stdout=True, stderr=True)
    # v5: closing channel 0 (a frame on channel 255 naming it) is EOF for cat
    s = await stream(url, send=[(0, b"hello "), (0, b"stdin\n"), (255, b"\x00")])
    assert s.data(1) == b"hello stdin\n"
    assert s.status()["status"] == "Success"


async def test_exec_tty_with_resize(pod: Pod) -> None:
    url = await exec_url(pod, ["sh"], tty=True, stdin=True, stdout=True)
    size = json.dumps({"Width": 123, "Height": 45}).encode()
    # /dev/tty opens only for a process with a controlling terminal: the pty must be the session's.
    s = await stream(url, send=[(4, size), (0, b"stty size; tty; echo ctty-ok >/dev/tty; exit 7\n")])
    out = s.data(1)
    assert b"45 123" in out and b"/dev/pts/" in out, out
    assert b"ctty-ok" in out.replace(b"echo ctty-ok", b""), out
    assert s.data(2) == b""  # a terminal has one output stream
    assert s.status()["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]


async def test_exec_of_missing_command_reports_127(pod: Pod) -> None:
    url = await exec_url(pod, ["no-such-command"], stdout=True, stderr=True)
    s = await stream(url)
    assert b"no-such-command" in s.data(2)
    assert s.status()["details"]["causes"][0]["message"] == "127"


async def _eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _processes_with_cmdline(cmdline: bytes) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read() == cmdline:
                        found.append(int(entry))
            except OSError:
                continue
    return found


async def test_exec_dies_when_the_client_goes_away(pod: Pod) -> None:
    marker = str(90000 + secrets.randbelow(9999))
    cmdline = f"sleep\0{marker}\0".encode()
    url = await exec_url(pod, ["sh", "-c", f"echo started; exec sleep {marker}"], stdout=True)
    async with aiohttp.ClientSession() as http, http.ws_connect(url, protocols=["v5.channel.k8s.io"]) as ws:
        got = b""
        while b"started" not in got:
            got += (await ws.receive_bytes())[1:]
        await _eventually(lambda: bool(_processes_with_cmdline(cmdline)), "the command to run")
    await _eventually(lambda: not _processes_with_cmdline(cmdline), "the command to die with its stream")


# -- attach -------------------------------------------------------------------------------------------


async def test_attach_streams_new_output_until_the_container_stops(pod: Pod) -> None:
    cid = await start_container(pod, "talker", ["sh", "-c", "echo old-line; exec sleep 100000"])
    rs = pod.h.runtime_stub
    log = Path(pod.config.log_directory) / "talker" / "0.log"
    for _ in range(200):  # wait until the old line is in the log: attach must not replay it
        if log.exists() and b"old-line" in log.read_bytes():
            break
        await asyncio.sleep(0.05)
    url = (await rs.Attach(cri.AttachRequest(container_id=cid, stdout=True, stderr=True))).url
    assert URL.match(url) and "/attach/" in url
    async with aiohttp.ClientSession() as http, http.ws_connect(url, protocols=["v5.channel.k8s.io"]) as ws:
        assert await ws.receive_bytes() == b"\x01"  # the empty "connected" frame on stdout
        # write into the container's own stdout/stderr (its init's fds), as the application would
        await rs.ExecSync(
            cri.ExecSyncRequest(
                container_id=cid,
                cmd=["sh", "-c", "echo new-out > /proc/1/fd/1; echo new-err > /proc/1/fd/2"],
                timeout=10,
            )
        )
        frames: list[tuple[int, bytes]] = []
        while {(1, b"new-out\n"), (2, b"new-err\n")} - set(frames):
            msg = await ws.receive_bytes(timeout=20)
            frames.append((msg[0], msg[1:]))
        assert all(b"old-line" not in d for _, d in frames)
        await rs.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=0))
        rest = [(m.data[0], m.data[1:]) async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
    assert json.loads(dict(rest)[3]) == {"metadata": {}, "status": "Success"}
    await rs.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))


# -- port-forward -------------------------------------------------------------------------------------


async def test_port_forward_reaches_the_pod_loopback(pod: Pod) -> None:
    url = (await pod.h.runtime_stub.PortForward(cri.PortForwardRequest(pod_sandbox_id=pod.sid, port=[8080]))).url
    assert URL.match(url) and "/portforward/" in url
    s = await stream(url, send=[(0, b"GET /index.html HTTP/1.0\r\n\r\n")], protocols=["v4.channel.k8s.io"])
    assert s.frames[:2] == [(0, struct.pack("<H", 8080)), (1, struct.pack("<H", 8080))]
    response = s.data(0)[2:]
    assert response.startswith(b"HTTP/1.") and WWW.encode() in response, response
    assert s.data(1) == struct.pack("<H", 8080)  # no error


async def test_port_forward_ports_from_the_query_and_a_refused_port(pod: Pod) -> None:
    url = (await pod.h.runtime_stub.PortForward(cri.PortForwardRequest(pod_sandbox_id=pod.sid))).url
    # nothing listens on 8081 in the pod (and the host's 8081 is not consulted): the error channel says so
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{url}?port=8081", protocols=["v4.channel.k8s.io"]) as ws,
    ):
        frames = [(m.data[0], m.data[1:]) async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
    port = struct.pack("<H", 8081)
    assert frames[:2] == [(0, port), (1, port)]
    errors = b"".join(d for c, d in frames[2:] if c == 1)
    assert b"error forwarding port 8081" in errors and b"refused" in errors.lower(), errors


# -- tokens and bad requests --------------------------------------------------------------------------


async def _handshake_status(url: str) -> int:
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, protocols=["v5.channel.k8s.io"]):
                return 101
        except aiohttp.WSServerHandshakeError as err:
            return err.status


async def test_tokens_are_single_use_and_expire(pod: Pod) -> None:
    url = await exec_url(pod, ["true"], stdout=True)
    assert (await stream(url)).status()["status"] == "Success"
    assert await _handshake_status(url) == 404  # used

    tokens = pod.h.runtime.streaming.tokens
    url = await exec_url(pod, ["true"], stdout=True)
    real_clock = tokens.clock
    tokens.clock = lambda: real_clock() + tokens.ttl + 1
    try:
        assert await _handshake_status(url) == 404  # expired
    finally:
        tokens.clock = real_clock

    url = await exec_url(pod, ["true"], stdout=True)
    async with aiohttp.ClientSession() as http, http.get(url) as plain:  # no upgrade: refused, token spent
        assert plain.status == 400 and "WebSocket" in await plain.text()
    assert await _handshake_status(url) == 404

    url = await exec_url(pod, ["true"], stdout=True)
    assert await _handshake_status(url.replace("/exec/", "/attach/")) == 400  # a token is for one kind


async def test_unsupported_subprotocol_is_refused(pod: Pod) -> None:
    url = await exec_url(pod, ["true"], stdout=True)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            async with http.ws_connect(url, protocols=["v9.channel.k8s.io"]):
                pass
    assert err.value.status == 400


async def test_bad_requests_are_clear_grpc_errors(pod: Pod) -> None:
    rs = pod.h.runtime_stub
    err = await rpc_error(rs.Exec(cri.ExecRequest(container_id="nope", cmd=["true"], stdout=True)))
    assert err.code() == grpc.StatusCode.NOT_FOUND and "nope" in (err.details() or "")
    err = await rpc_error(rs.Exec(cri.ExecRequest(container_id=pod.cid, stdout=True)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "cmd" in (err.details() or "")
    err = await rpc_error(rs.Exec(cri.ExecRequest(container_id=pod.cid, cmd=["true"])))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "stdout" in (err.details() or "")
    err = await rpc_error(
        rs.Exec(cri.ExecRequest(container_id=pod.cid, cmd=["sh"], tty=True, stdout=True, stderr=True))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "tty" in (err.details() or "")
    err = await rpc_error(rs.Exec(cri.ExecRequest(cmd=["true"], stdout=True)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "container_id" in (err.details() or "")

    err = await rpc_error(rs.Attach(cri.AttachRequest(container_id=pod.cid, stdin=True, stdout=True)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "stdin" in (err.details() or "")

    err = await rpc_error(rs.PortForward(cri.PortForwardRequest(pod_sandbox_id="nope", port=[80])))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await rpc_error(rs.PortForward(cri.PortForwardRequest(pod_sandbox_id=pod.sid, port=[70000])))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "port[0]" in (err.details() or "")

    done = await start_container(pod, "done", ["true"])
    for _ in range(200):
        status = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=done))).status
        if status.state == cri.CONTAINER_EXITED:
            break
        await asyncio.sleep(0.05)
    err = await rpc_error(rs.Exec(cri.ExecRequest(container_id=done, cmd=["true"], stdout=True)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "not running" in (err.details() or "")
    err = await rpc_error(rs.Attach(cri.AttachRequest(container_id=done, stdout=True)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    await rs.RemoveContainer(cri.RemoveContainerRequest(container_id=done))


async def test_container_stopped_between_url_and_connect(pod: Pod) -> None:
    rs = pod.h.runtime_stub
    cid = await start_container(pod, "brief", ["sleep", "100000"])
    url = (await rs.Exec(cri.ExecRequest(container_id=cid, cmd=["true"], stdout=True))).url
    await rs.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=0))
    status = (await stream(url)).status()
    assert status["reason"] == "InternalError" and "not running" in status["message"], status
    await rs.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))


async def test_stop_closes_the_port_and_a_later_request_reopens_it(pod: Pod) -> None:
    url = await exec_url(pod, ["true"], stdout=True)
    port = int(URL.match(url).group(1))  # type: ignore[union-attr]
    await pod.h.runtime.stop()
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
    url = await exec_url(pod, ["echo", "again"], stdout=True)
    assert (await stream(url)).data(1) == b"again\n"


# -- the same exec through runc's containers ----------------------------------------------------------


async def test_exec_in_a_runc_container(tmp_path: Path, busybox_layout: Path) -> None:
    """Streaming exec joins the container from the executor's state, whichever runtime made it."""
    if not shutil.which("runc"):
        pytest.skip("runc is not installed")
    async with cri_server(tmp_path, busybox_layout, executor="runc") as h:
        config = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name="srunc", namespace="default", uid=f"uid-{secrets.token_hex(4)}"),
            hostname="srunc",
            log_directory=str(tmp_path / "logs"),
        )
        sid = (await h.runtime_stub.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
        p = Pod(h, sid, "", config)
        p.cid = await start_container(p, "main", ["sleep", "100000"])
        try:
            url = await exec_url(p, ["sh", "-c", "hostname; echo err >&2; exit 4"], stdout=True, stderr=True)
            s = await stream(url)
            assert (s.data(1), s.data(2)) == (b"srunc\n", b"err\n")
            assert s.status()["details"]["causes"][0]["message"] == "4"
            url = await exec_url(p, ["sh"], tty=True, stdin=True, stdout=True)
            s = await stream(url, send=[(0, b"tty; exit\n")])
            assert b"/dev/pts/" in s.data(1) and s.status()["status"] == "Success"
        finally:
            await h.runtime.stop()
