"""bench/hollow's pure parts: flags, the Node it registers, the status it reports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HOLLOW = Path(__file__).resolve().parents[3] / "bench" / "hollow"
sys.path.insert(0, str(HOLLOW))
from hollow_nodes import NodeShape, fill_status, node_object  # noqa: E402

_spec = importlib.util.spec_from_file_location("hollow_main", HOLLOW / "__main__.py")
assert _spec is not None and _spec.loader is not None
hollow_main = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hollow_main)


def test_node_object_has_zone_hostname_and_every_kth_taint() -> None:
    shape = NodeShape(zones=3, taints=[("dedicated", "gpu", "NoSchedule")], taint_every=2, labels={"tier": "x"})
    n4, n5 = node_object("hollow-00004", 4, shape), node_object("hollow-00005", 5, shape)
    assert n4.metadata.labels["topology.kubernetes.io/zone"] == "zone-1"
    assert n4.metadata.labels["kubernetes.io/hostname"] == "hollow-00004" and n4.metadata.labels["tier"] == "x"
    assert [(t.key, t.effect) for t in n4.spec.taints] == [("dedicated", "NoSchedule")]
    assert not n5.spec.taints


def test_status_is_ready_with_capacity() -> None:
    node = node_object("h", 0, NodeShape(extended={"example.com/gpu": "2"}))
    fill_status(node, NodeShape(extended={"example.com/gpu": "2"}))
    assert node.status.allocatable["example.com/gpu"].value == "2" and node.status.capacity["pods"].value == "110"
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nodes", "0"], "--nodes: must be at least 1"),
        (["--label", "novalue"], "want key=value"),
        (["--taint", "k=v:Sometimes"], "effect must be NoSchedule, PreferNoSchedule or NoExecute"),
    ],
)
def test_bad_flags_are_named(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        hollow_main.parse_args(argv)
    assert message in capsys.readouterr().err


def test_taint_flag() -> None:
    args = hollow_main.parse_args(["--taint", "dedicated=gpu:NoSchedule", "--taint", "spot:PreferNoSchedule"])
    assert args.taint == [("dedicated", "gpu", "NoSchedule"), ("spot", "", "PreferNoSchedule")]
