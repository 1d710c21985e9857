"""The generated CNI bridge network masquerades pod traffic unless told not to (multi-node clusters)."""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff_runtime.network.manager import default_conflist


@pytest.mark.parametrize("ip_masq", [True, False])
def test_ip_masq_follows_the_setting(tmp_path: Path, ip_masq: bool) -> None:
    bridge = default_conflist("skiff", "skiff0", "10.88.0.0/16", tmp_path, ip_masq=ip_masq)["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["ipMasq"] is ip_masq
