"""The sweep's last step: the CNI bridge plugin's NAT rules for our sandboxes, left behind when the
runtime died before CNI DEL. Real iptables (root); the rules name a source no interface has."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from skiff_cli.cluster.cleanup import remove_cni_nat_rules, sandbox_ids

pytestmark = pytest.mark.root


def _nat() -> str:
    return subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout


def _add_cni_rule(sandbox: str, source: str) -> str:
    chain = f"CNI-{secrets.token_hex(12)}"
    comment = f'name: "skiff" id: "{sandbox}"'
    subprocess.run(["iptables", "-t", "nat", "-N", chain], check=True)
    subprocess.run(
        ["iptables", "-t", "nat", "-A", chain, "-m", "comment", "--comment", comment, "-j", "ACCEPT"], check=True
    )
    subprocess.run(
        [
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            source,
            "-m",
            "comment",
            "--comment",
            comment,
            "-j",
            chain,
        ],
        check=True,
    )
    return chain


def test_only_our_sandboxes_rules_are_removed(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("iptables-save") is None:
        pytest.skip("needs root and iptables")
    ours, theirs = secrets.token_hex(32), secrets.token_hex(32)
    (tmp_path / "run" / "sandboxes" / ours).mkdir(parents=True)
    (tmp_path / "run" / "netns").mkdir()
    (tmp_path / "run" / "netns" / "not-a-sandbox").touch()
    assert sandbox_ids(tmp_path) == {ours}
    mine = _add_cni_rule(ours, "10.255.254.2/32")
    other = _add_cni_rule(theirs, "10.255.254.3/32")
    try:
        assert remove_cni_nat_rules(sandbox_ids(tmp_path)) == 1
        after = _nat()
        assert mine not in after and ours not in after
        assert other in after and theirs in after
    finally:
        remove_cni_nat_rules({ours, theirs})
    assert other not in _nat()
