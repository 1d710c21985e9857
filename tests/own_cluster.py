"""A cluster of a test module's own (for tests that take it apart: HA, growing, node networks), beside the
shared e2e cluster: root or skipped, a short folder (unix socket paths below it are capped at 107), a
random name suffix and pod subnet, and, when asked, a node network of its own."""

from __future__ import annotations

import os
import secrets

import pytest
from skiff_cli.cluster import multinode
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster


def own_cluster(tmp_path_factory: pytest.TempPathFactory, name: str, node_net: str = "") -> LocalCluster:
    """`node_net`: the first two octets of a random /24 node network ("10.254"), or "" for none."""
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (namespaces, cgroups, mounts)")
    state = tmp_path_factory.mktemp(name)
    layout = ClusterLayout.ephemeral(state, secrets.token_hex(3), pod_subnet=200 + secrets.randbelow(40))
    if node_net:
        multinode.use_node_network(layout, f"{node_net}.{secrets.randbelow(250)}.0/24")
    return LocalCluster(layout, say=lambda line: print(f"[{name}] {line}"))
