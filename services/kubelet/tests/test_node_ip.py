"""--node-ip: a node with an address of its own (a multi-node cluster's worker) reports it."""

from __future__ import annotations

import pytest
from skiff_kubelet.config import KubeletConfig


@pytest.mark.parametrize(("node_ip", "error"), [("", ""), ("10.250.0.2", ""), ("10.250.0", "--node-ip: '10.250.0'")])
def test_node_ip_is_validated(node_ip: str, error: str) -> None:
    cfg = KubeletConfig(node_name="n", node_ip=node_ip)
    if not error:
        cfg.validate()
        return
    with pytest.raises(ValueError, match=error):
        cfg.validate()
