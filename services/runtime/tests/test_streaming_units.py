"""Pure pieces of CRI streaming: tokens, CRI log lines, the log follower, ports, addresses, protocols."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from skiff_common.errors import BadRequest, TooManyRequests
from skiff_runtime.streaming import channels as ch
from skiff_runtime.streaming.attach import LogFollower, parse_line
from skiff_runtime.streaming.portforward import parse_ports
from skiff_runtime.streaming.server import parse_address
from skiff_runtime.streaming.tokens import TokenCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_is_single_use() -> None:
    cache: TokenCache[str] = TokenCache(ttl=60, clock=Clock())
    token = cache.insert("exec me")
    assert len(token) >= 16 and token != cache.insert("another")
    assert cache.take(token) == "exec me"
    assert cache.take(token) is None
    assert cache.take("never-issued") is None


def test_token_expires() -> None:
    clock = Clock()
    cache: TokenCache[str] = TokenCache(ttl=60, clock=clock)
    early = cache.insert("a")
    clock.now += 59
    late = cache.insert("b")
    clock.now += 1
    assert cache.take(early) is None  # exactly at its deadline: gone
    assert cache.take(late) == "b"


def test_tokens_in_flight_are_bounded_and_expired_ones_free_room() -> None:
    clock = Clock()
    cache: TokenCache[int] = TokenCache(ttl=60, max_in_flight=2, clock=clock)
    cache.insert(1)
    cache.insert(2)
    with pytest.raises(TooManyRequests):
        cache.insert(3)
    clock.now += 61
    cache.insert(3)
    assert len(cache) == 1


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (b"2026-01-01T00:00:00.000000001Z stdout F hello world", (ch.STDOUT, b"hello world\n")),
        (b"2026-01-01T00:00:00Z stderr P part", (ch.STDERR, b"part")),
        (b"2026-01-01T00:00:00Z stdout F ", (ch.STDOUT, b"\n")),
        (b"2026-01-01T00:00:00Z stdout F", (ch.STDOUT, b"\n")),
        (b"2026-01-01T00:00:00Z stdout F  two  spaces ", (ch.STDOUT, b" two  spaces \n")),
        (b"2026-01-01T00:00:00Z stdin F nope", None),
        (b"garbage", None),
        (b"", None),
    ],
)
def test_parse_cri_log_line(line: bytes, parsed: tuple[int, bytes] | None) -> None:
    assert parse_line(line) == parsed


def test_log_follower_starts_at_the_end_and_survives_rotation(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_bytes(b"old 1\nold 2\n")
    follower = LogFollower(str(log))
    assert follower.read_lines() == []
    with log.open("ab") as f:
        f.write(b"new 1\nnew 2 part")
    assert follower.read_lines() == [b"new 1"]
    with log.open("ab") as f:
        f.write(b"ial\n")
    assert follower.read_lines() == [b"new 2 partial"]
    os.rename(log, tmp_path / "0.log.1")  # ReopenContainerLog after a rotation: a new file
    log.write_bytes(b"rotated\n")
    assert follower.read_lines() == [b"rotated"]


def test_log_follower_of_a_missing_file(tmp_path: Path) -> None:
    follower = LogFollower(str(tmp_path / "later.log"))
    assert follower.read_lines() == []
    (tmp_path / "later.log").write_bytes(b"first\n")
    assert follower.read_lines() == [b"first"]


@pytest.mark.parametrize(
    ("values", "ports"),
    [(["80"], [80]), (["80,8080", "9090"], [80, 8080, 9090]), ([], [])],
)
def test_parse_ports(values: list[str], ports: list[int]) -> None:
    assert parse_ports(values) == ports


@pytest.mark.parametrize("bad", ["0", "65536", "http", "", "80,", "-1"])
def test_parse_ports_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="port: Invalid value"):
        parse_ports([bad])


@pytest.mark.parametrize(
    ("address", "parsed"),
    [("127.0.0.1:0", ("127.0.0.1", 0)), ("0.0.0.0:10010", ("0.0.0.0", 10010)), ("[::1]:5", ("::1", 5))],
)
def test_parse_address(address: str, parsed: tuple[str, int]) -> None:
    assert parse_address(address) == parsed


@pytest.mark.parametrize("bad", ["127.0.0.1", ":80", "host:port", "127.0.0.1:99999"])
def test_parse_address_refuses(bad: str) -> None:
    with pytest.raises(BadRequest, match="streaming address"):
        parse_address(bad)


def test_protocol_versions() -> None:
    by_name = {p.name: p for p in ch.REMOTECOMMAND}
    assert by_name["v5.channel.k8s.io"] == ch.Protocol("v5.channel.k8s.io", True, True, True)
    assert by_name["v4.channel.k8s.io"] == ch.Protocol("v4.channel.k8s.io", True, True, False)
    assert by_name["v4.base64.channel.k8s.io"].binary is False
    assert by_name["channel.k8s.io"].status_json is False
    assert {p.name for p in ch.PORTFORWARD} >= {"v4.channel.k8s.io", "v4.base64.channel.k8s.io"}


def test_exit_status_shape() -> None:
    status = ch.exit_status(3, ["sh", "-c", "exit 3"])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
