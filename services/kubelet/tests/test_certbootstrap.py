"""TLS bootstrap's local rules: which existing certificate is kept (from the cluster CA, for this node,
not about to expire), and the bootstrap kubeconfig round trip (0600: it holds the token)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from skiff_common.bootstrap import kubeconfig as bootconf
from skiff_common.pki import ClusterPKI, kubelet_profiles
from skiff_kubelet.certbootstrap import BootstrapError, bootstrap_certificates, usable
from skiff_kubelet.config import KubeletConfig


def test_only_this_nodes_certificate_from_this_ca_is_kept(tmp_path: Path) -> None:
    made = ClusterPKI(tmp_path / "pki").ensure(kubelet_profiles("n1"))
    other = ClusterPKI(tmp_path / "other").ensure(kubelet_profiles("n1"))
    ca = (tmp_path / "pki" / "ca.crt").read_bytes()
    client = made["nodes/n1/kubelet-client"]
    files = (Path(client.cert_file), Path(client.key_file))
    assert usable(*files, ca, "system:node:n1")
    assert not usable(*files, ca, "system:node:n2")  # another node's name
    foreign = other["nodes/n1/kubelet-client"]
    assert not usable(Path(foreign.cert_file), Path(foreign.key_file), ca, "system:node:n1")  # another CA
    assert not usable(tmp_path / "missing.crt", tmp_path / "missing.key", ca, "system:node:n1")


def test_bootstrap_kubeconfig_round_trip_is_private(tmp_path: Path) -> None:
    path = tmp_path / "bootstrap-kubelet.conf"
    boot = bootconf.BootstrapConfig(server="https://127.0.0.1:6444", ca_pem=b"CA", token="abcdef.0123456789abcdef")
    bootconf.save(path, boot)
    assert bootconf.load(path) == boot
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("clusters: []\n")
    with pytest.raises(bootconf.BootstrapConfigError, match="--bootstrap-kubeconfig"):
        bootconf.load(path)


async def test_bootstrap_needs_somewhere_to_write(tmp_path: Path) -> None:
    cfg = KubeletConfig(node_name="n1", bootstrap_kubeconfig=str(tmp_path / "b.conf"))
    with pytest.raises(BootstrapError, match="--tls-cert-file and --tls-key-file"):
        await bootstrap_certificates(cfg)
