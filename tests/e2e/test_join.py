"""Bootstrap tokens and `skiff join`'s discovery against a real cluster: tokens are created, listed and
deleted; cluster-info is signed per token by the bootstrap signer; a join is refused, with a message
naming why, for a wrong CA hash, an unknown, wrong or expired token, and a server not chaining to the
pinned CA (a forged apiserver on 127.0.0.1 replaying the real, signed cluster-info)."""

from __future__ import annotations

import http.server
import json
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from skiff_cli.cluster.discovery import discover
from skiff_cli.cluster.local import LocalCluster
from skiff_common.bootstrap import clusterinfo
from skiff_common.pki import ClusterPKI, ca_cert_hash, control_plane_profiles

JOIN = re.compile(r"skiff join (\S+) --token (\S+) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})")


def new_join(skiff, ttl: str = "1h") -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    out = skiff("token", "create", "--ttl", ttl, "--print-join-command").stdout
    m = JOIN.search(out)
    assert m, out
    return m.group(1), m.group(2), m.group(3)


@pytest.fixture
def join_args(skiff, cluster: LocalCluster) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    address, token, pin = new_join(skiff)
    assert address == cluster.layout.join_address
    assert pin == ca_cert_hash(cluster.pki.path("ca").read_bytes())
    return address, token, pin


def signed_cluster_info(skiff, token_id: str) -> dict:  # type: ignore[no-untyped-def]
    def signed() -> dict | None:
        cm = skiff.get_json("configmap", clusterinfo.NAME, "-n", clusterinfo.NAMESPACE)
        return cm if clusterinfo.JWS_PREFIX + token_id in cm.get("data", {}) else None

    return skiff.wait_for(f"cluster-info signed with token {token_id}", signed)


def test_token_create_list_delete(skiff) -> None:  # type: ignore[no-untyped-def]
    value = skiff("token", "create", "--ttl", "2h", "--description", "e2e").stdout.strip()
    token_id = value.split(".")[0]
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", value)
    listed = skiff("token", "list").stdout
    row = next(line for line in listed.splitlines() if line.startswith(token_id))
    assert "authentication,signing" in row and "e2e" in row and value.split(".")[1] not in listed
    secret = skiff.get_json("secret", f"bootstrap-token-{token_id}", "-n", "kube-system")
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    assert f'"{token_id}" deleted' in skiff("token", "delete", token_id).stdout
    assert token_id not in skiff("token", "list").stdout
    gone = skiff("token", "delete", token_id, check=False)
    assert gone.returncode == 1 and "not found" in gone.stderr


def test_discovery_trusts_a_signed_pinned_cluster_info(skiff, cluster: LocalCluster, join_args) -> None:  # type: ignore[no-untyped-def]
    address, token, pin = join_args
    signed_cluster_info(skiff, token.split(".")[0])
    found = discover(address, token, [pin])
    assert found.ca_pem == cluster.pki.path("ca").read_bytes()


def test_discovery_waits_for_a_token_made_after_it_started(skiff, cluster: LocalCluster, join_args) -> None:  # type: ignore[no-untyped-def]
    """As kubeadm's join, discovery retries while cluster-info is not yet signed for its token: a join
    run right after `token create` must not be refused before the bootstrap signer has signed."""
    import secrets as pysecrets
    from concurrent.futures import ThreadPoolExecutor

    address, _token, pin = join_args
    token_id, secret = pysecrets.token_hex(3), pysecrets.token_hex(8)
    with ThreadPoolExecutor(max_workers=1) as pool:
        found = pool.submit(discover, address, f"{token_id}.{secret}", [pin], wait=60)
        skiff.apply_text(f"""
apiVersion: v1
kind: Secret
metadata: {{name: bootstrap-token-{token_id}, namespace: kube-system}}
type: bootstrap.kubernetes.io/token
stringData: {{token-id: "{token_id}", token-secret: "{secret}", usage-bootstrap-signing: "true"}}
""")
        try:
            assert found.result(timeout=90).token_id == token_id
        finally:
            skiff("token", "delete", token_id, check=False)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong-hash", "which is not pinned"),
        ("unknown-token", "is unknown or has expired"),
        ("wrong-secret", "failed to verify the JWS signature"),
    ],
)
def test_join_refuses(skiff, join_args, case: str, message: str) -> None:  # type: ignore[no-untyped-def]
    address, token, pin = join_args
    token_id, secret = token.split(".")
    signed_cluster_info(skiff, token_id)
    if case == "wrong-hash":
        pin = "sha256:" + "0" * 64
    elif case == "unknown-token":
        token = "zzzzzz." + secret
    else:
        token = f"{token_id}.{'x' * 16}"
    wait = ["--discovery-timeout", "2"]  # an unknown token is waited for, as a new one not yet signed
    result = skiff("join", address, "--token", token, "--discovery-token-ca-cert-hash", pin, *wait, check=False)
    assert result.returncode == 1
    assert message in result.stdout, result.stdout


def test_join_refuses_an_expired_token(skiff) -> None:  # type: ignore[no-untyped-def]
    address, token, pin = new_join(skiff, ttl="2s")
    token_id = token.split(".")[0]

    def unsigned() -> bool:
        cm = skiff.get_json("configmap", clusterinfo.NAME, "-n", clusterinfo.NAMESPACE)
        return clusterinfo.JWS_PREFIX + token_id not in cm.get("data", {})

    skiff.wait_for("the expired token's signature to be removed", unsigned)
    wait = ["--discovery-timeout", "2"]
    result = skiff("join", address, "--token", token, "--discovery-token-ca-cert-hash", pin, *wait, check=False)
    assert result.returncode == 1 and "is unknown or has expired" in result.stdout, result.stdout
    skiff.wait_for("the token cleaner to delete it", lambda: token_id not in skiff("token", "list").stdout)


@pytest.fixture
def forged_server(tmp_path: Path, skiff, join_args) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An HTTPS server on 127.0.0.1 with a certificate of another CA, answering with the real
    cluster-info (signed for the token: say the token leaked), so only the final check catches it."""
    token_id = join_args[1].split(".")[0]
    body = json.dumps(signed_cluster_info(skiff, token_id)).encode()
    tls = ClusterPKI(tmp_path / "forged").ensure(control_plane_profiles("forged"))["apiserver"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_join_refuses_a_server_not_chaining_to_the_pinned_ca(skiff, join_args, forged_server: str) -> None:  # type: ignore[no-untyped-def]
    _address, token, pin = join_args
    result = skiff("join", forged_server, "--token", token, "--discovery-token-ca-cert-hash", pin, check=False)
    assert result.returncode == 1
    assert "does not present a certificate that chains to the pinned CA" in result.stdout, result.stdout


def test_a_node_joins_by_tls_bootstrap_and_resets(skiff, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`skiff join` on this host as a second node: its kubelet gets system:node:<name> certificates by
    CSR (approved and signed by the controllers), registers its Node, which goes Ready; `skiff reset`
    then leaves none of its processes, bridge, cgroups or certificates behind."""
    import secrets as pysecrets

    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from skiff_cli.cluster import cleanup, processes
    from skiff_cli.cluster.layout import ClusterLayout
    from skiff_common.pki import identity_of

    address, token, pin = new_join(skiff)
    name = f"joined-{pysecrets.token_hex(3)}"
    state = tmp_path / "node"
    cidr = f"10.{150 + pysecrets.randbelow(40)}.0.0/16"
    joined = skiff(
        "join", address, "--token", token, "--discovery-token-ca-cert-hash", pin,
        "--node-name", name, "--pod-cidr", cidr, "--state-dir", str(state), check=False, timeout=180,
    )  # fmt: skip
    layout = ClusterLayout.load(state)
    try:
        logs = "".join(p.read_text() for p in (state / "logs").glob("*.log"))
        assert joined.returncode == 0, joined.stdout + joined.stderr + logs
        node = skiff.get_json("node", name)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"
        client = x509.load_pem_x509_certificate((state / "pki" / "kubelet-client.crt").read_bytes())
        serving = x509.load_pem_x509_certificate((state / "pki" / "kubelet.crt").read_bytes())
        for cert, usage in ((client, ExtendedKeyUsageOID.CLIENT_AUTH), (serving, ExtendedKeyUsageOID.SERVER_AUTH)):
            ident = identity_of(cert)
            assert (ident.user, ident.groups) == (f"system:node:{name}", ("system:nodes",))
            assert set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {usage}
        csrs = skiff.get_json("csr")["items"]
        mine = [c for c in csrs if c["metadata"]["name"].startswith(f"node-csr-{name}")]
        assert len(mine) == 2
        assert all(c["status"]["conditions"][0]["type"] == "Approved" for c in mine)
        assert (state / "bootstrap-kubelet.conf").stat().st_mode & 0o077 == 0  # holds the token
    finally:
        reset = skiff("reset", "--state-dir", str(state), check=False)
        # As after kubeadm reset, the Node object stays until deleted; the shared cluster must not keep it.
        skiff("delete", "node", name, "--ignore-not-found", check=False)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert processes.running_pid("kubelet", layout.pid_dir) is None
    assert processes.running_pid("runtime", layout.pid_dir) is None
    assert not (state / "pki").exists() and not (state / "bootstrap-kubelet.conf").exists()
    assert not cleanup.cgroup_dirs(layout.cgroup_root)
    assert not Path(f"/sys/class/net/{layout.bridge}").exists()
    assert not cleanup.leftover_processes(layout)
