"""What authorization costs: RBAC evaluation with 1,000 Roles and 5,000 RoleBindings, and Create
throughput with authorization on vs off in the same run (printed numbers, not a test).

    uv run python bench/authz_bench.py                 # 200,000 evaluations, 3,000 creates per round
    uv run python bench/authz_bench.py --creates 1000  # quicker

(a) Evaluation, in-process: the apiserver's authorizer chain (system:masters, Node, RBAC) over the
    bootstrap policy plus 1,000 Roles (100 namespaces x 10, 3 rules each) and 5,000 RoleBindings
    (50 per namespace, 2 users and a group each). Per-call latency (perf_counter_ns around one call)
    for: a user allowed through a RoleBinding, the same user refused (every grant it has is tried), the
    scheduler allowed through its ClusterRoleBinding, a kubelet through the Node authorizer, and a
    member of system:masters; plus the time to rebuild the index after an RBAC write.
(b) Create throughput: two `skiff-apiserver` processes on one etcd (own key prefixes), mutual TLS on
    both, one `--authorization-mode AlwaysAllow`, one `Node,RBAC` holding the same 1,000 Roles and 5,000
    RoleBindings; the client is a user bound to `edit` in its namespace (so RBAC really evaluates, no
    system:masters short cut). Rounds alternate off/on/off/on, `--creates` pods each at concurrency 20.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from skiff.api.core.v1 import namespace_pb2
from skiff.api.rbac.v1 import rbac_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.authorizer import Chain, PrivilegedGroups
from skiff_apiserver.auth.node import NodeAuthorizer
from skiff_apiserver.auth.rbac import policy
from skiff_apiserver.auth.rbac.authorizer import RBACAuthorizer
from skiff_apiserver.auth.user import authenticated
from skiff_apiserver.machinery import kinds
from skiff_common.grpcutil import TLSConfig, channel_credentials
from skiff_common.tls import ensure_cluster_pki

sys.path.insert(0, str(Path(__file__).parent))
from apiserver_bench import BIN, free_port, make_pod, pct, report, run_concurrent

NAMESPACES, ROLES_PER_NS, BINDINGS_PER_NS = 100, 10, 50
RBAC = "rbac.authorization.k8s.io"


def synthetic_rbac() -> tuple[list[Any], list[Any]]:
    """1,000 Roles and 5,000 RoleBindings; user-<ns>-<i> is bound to role (i % 10) of its namespace."""
    roles, bindings = [], []
    for n in range(NAMESPACES):
        ns = f"ns-{n}"
        for r in range(ROLES_PER_NS):
            role = rbac_pb2.Role()
            role.metadata.name, role.metadata.namespace = f"role-{r}", ns
            role.rules.add(verbs=["get", "list", "watch"], api_groups=[""], resources=["pods", "services"])
            role.rules.add(verbs=["create", "update"], api_groups=["apps"], resources=["deployments"])
            role.rules.add(verbs=["get"], api_groups=[""], resources=["configmaps"], resource_names=[f"cm-{r}"])
            roles.append(role)
        for b in range(BINDINGS_PER_NS):
            rb = rbac_pb2.RoleBinding()
            rb.metadata.name, rb.metadata.namespace = f"binding-{b}", ns
            rb.role_ref.api_group, rb.role_ref.kind, rb.role_ref.name = RBAC, "Role", f"role-{b % ROLES_PER_NS}"
            rb.subjects.add(kind="User", api_group=RBAC, name=f"user-{n}-{b}")
            rb.subjects.add(kind="User", api_group=RBAC, name=f"user-{n}-{b + 1}")
            rb.subjects.add(kind="Group", api_group=RBAC, name=f"team-{n}")
            bindings.append(rb)
    return roles, bindings


class _Cache:
    """Stands in for a watch cache: what the authorizers read (objects, revision, by_namespace)."""

    def __init__(self, objects: list[Any]) -> None:
        self.objects = {str(i).encode(): o for i, o in enumerate(objects)}
        self.by_namespace: dict[str, dict[bytes, Any]] = {}
        self.revision = 1


def bench_evaluation(calls: int) -> None:
    roles, bindings = synthetic_rbac()
    caches: Any = {
        "roles": _Cache(roles),
        "clusterroles": _Cache(policy.cluster_roles()),
        "rolebindings": _Cache(bindings),
        "clusterrolebindings": _Cache(policy.cluster_role_bindings()),
    }
    rbac = RBACAuthorizer(caches)
    start, cpu = time.perf_counter(), time.process_time()
    rbac.index()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"(a) RBAC evaluation: {len(roles)} Roles, {len(bindings)} RoleBindings + the bootstrap policy")
    print(f"  index rebuild after an RBAC write    {cpu * 1000:6.0f} ms CPU ({wall * 1000:.0f} ms wall)")
    chain = Chain([PrivilegedGroups(), NodeAuthorizer(_Cache([])), rbac])  # type: ignore[arg-type]
    user = authenticated("user-42-7", ["team-42"])
    cases = {
        "allowed via RoleBinding": Attributes(user, "create", "deployments", namespace="ns-42", api_group="apps"),
        "refused (every grant tried)": Attributes(user, "delete", "secrets", namespace="ns-42", name="x"),
        "scheduler via ClusterRoleBinding": Attributes(
            authenticated("system:kube-scheduler", []), "create", "pods", "binding", "ns-1", "p"
        ),
        "kubelet via Node authorizer": Attributes(
            authenticated("system:node:n1", ["system:nodes"]), "update", "pods", "status", "ns-1", "p"
        ),
        "system:masters": Attributes(authenticated("admin", ["system:masters"]), "delete", "nodes", name="n"),
    }
    for label, attrs in cases.items():
        lat = []
        allowed = chain.authorize(attrs).allowed
        for _ in range(calls // len(cases)):
            t = time.perf_counter_ns()
            chain.authorize(attrs)
            lat.append(time.perf_counter_ns() - t)
        print(
            f"  {label:<34} p50 {pct(lat, 50) / 1000:6.1f} us   p99 {pct(lat, 99) / 1000:6.1f} us"
            f"   ({'allowed' if allowed else 'refused'}, n={len(lat)})"
        )


# -- (b) Create throughput ----------------------------------------------------------------------------
def issue(pki: Path, cn: str, groups: tuple[str, ...]) -> TLSConfig:
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key: Any = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name(subject)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    stem = pki / cn.replace(":", "-")
    stem.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    stem.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return TLSConfig(str(pki / "ca.crt"), str(stem.with_suffix(".crt")), str(stem.with_suffix(".key")))


def stub(target: str, tls: TLSConfig) -> tuple[grpc.aio.Channel, apiserver_pb2_grpc.ApiServerStub]:
    channel = grpc.aio.secure_channel(target, channel_credentials(tls))
    return channel, apiserver_pb2_grpc.ApiServerStub(channel)


async def create(s: apiserver_pb2_grpc.ApiServerStub, obj: Any) -> None:
    await s.Create(pb.CreateRequest(object=kinds.pack(obj)))


async def load_rbac(admin: apiserver_pb2_grpc.ApiServerStub, namespace: str) -> None:
    roles, bindings = synthetic_rbac()
    namespaces = [*sorted({r.metadata.namespace for r in roles}), namespace]
    for name in namespaces:
        ns = namespace_pb2.Namespace()
        ns.metadata.name = name
        await create(admin, ns)
    objs = [*roles, *bindings]
    rb = rbac_pb2.RoleBinding()
    rb.metadata.name, rb.metadata.namespace = "bench-edit", namespace
    rb.role_ref.api_group, rb.role_ref.kind, rb.role_ref.name = RBAC, "ClusterRole", "edit"
    rb.subjects.add(kind="User", api_group=RBAC, name="bench-user")
    objs.append(rb)
    started = time.perf_counter()
    await run_concurrent(len(objs), 20, lambda i: create(admin, objs[i]))
    print(f"  loaded {len(objs)} RBAC objects in {time.perf_counter() - started:.1f} s")


async def bench_creates(targets: dict[str, str], pki: Path, n: int, rounds: int) -> None:
    admin_tls = issue(pki, "bench-admin", ("system:masters",))
    user_tls = issue(pki, "bench-user", ())
    channels = []
    stubs = {}
    for mode, target in targets.items():
        ch, admin = stub(target, admin_tls)
        channels.append(ch)
        await asyncio.wait_for(ch.channel_ready(), 120)  # a loaded machine starts the servers slowly
        ns = namespace_pb2.Namespace()
        ns.metadata.name = "bench"
        if mode == "on":
            await load_rbac(admin, "bench")
        else:
            await create(admin, ns)
        ch2, user = stub(target, user_tls)
        channels.append(ch2)
        stubs[mode] = user
    await asyncio.sleep(1.0)  # the watch caches (RBAC's index) have applied every binding
    for mode, s in stubs.items():  # warm-up, not measured: the first request builds RBAC's index
        await run_concurrent(200, 20, lambda i, s=s, mode=mode: create(s, make_pod(f"warm-{mode}-{i}", "bench")))
    results: dict[str, list[float]] = {"off": [], "on": []}
    lats: dict[str, list[float]] = {"off": [], "on": []}
    print(f"(b) Create throughput, {n} pods per round, concurrency 20, as a user bound to edit")
    for r in range(rounds):
        for mode in ("off", "on"):
            s = stubs[mode]
            latencies, elapsed = await run_concurrent(
                n, 20, lambda i, s=s, r=r: create(s, make_pod(f"p-{r}-{i}", "bench"))
            )
            results[mode].append(report(f"round {r + 1} authorization {mode}", latencies, elapsed))
            lats[mode] += latencies
    off, on = sum(results["off"]) / rounds, sum(results["on"]) / rounds
    print(f"  mean: off {off:.0f} ops/s, on {on:.0f} ops/s, on/off = {on / off:.3f}")
    print(
        f"  added latency (all rounds): p50 {(pct(lats['on'], 50) - pct(lats['off'], 50)) * 1000:+.2f} ms, "
        f"p99 {(pct(lats['on'], 99) - pct(lats['off'], 99)) * 1000:+.2f} ms"
    )
    for ch in channels:
        await ch.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evaluations", type=int, default=200_000)
    ap.add_argument("--creates", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    bench_evaluation(args.evaluations)
    if args.creates <= 0:
        return
    tmp = Path(tempfile.mkdtemp(prefix="skiff-authz-bench-"))
    endpoint = f"127.0.0.1:{free_port()}"
    pki = tmp / "pki"
    server = ensure_cluster_pki(pki, components=["apiserver"])["apiserver"]
    procs: list[subprocess.Popen[bytes]] = []
    targets = {}
    try:
        procs.append(subprocess.Popen(
            [str(BIN / "etcd"), "--data-dir", str(tmp / "etcd"), "--listen-client-urls", f"http://{endpoint}",
             "--advertise-client-urls", f"http://{endpoint}", "--listen-peer-urls",
             f"http://127.0.0.1:{free_port()}", "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        time.sleep(1.5)
        for mode, authz in (("off", "AlwaysAllow"), ("on", "Node,RBAC")):
            port = free_port()
            procs.append(subprocess.Popen(
                [str(BIN / "skiff-apiserver"), "--disable-admission-plugins", "ServiceAccount",  # no SA controller
                 "--listen", f"127.0.0.1:{port}", "--etcd-endpoints", endpoint,
                 "--etcd-prefix", f"/bench-{mode}", "--tls-cert-file", server.cert_file, "--tls-key-file",
                 server.key_file, "--client-ca-file", server.ca_file, "--authorization-mode", authz,
                 "--log-level", "warning", "--max-inflight", "0"],
                stdout=subprocess.DEVNULL, stderr=open(tmp / f"apiserver-{mode}.log", "wb")))  # fmt: skip
            targets[mode] = f"127.0.0.1:{port}"
        import uvloop

        uvloop.run(bench_creates(targets, pki, args.creates, args.rounds))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
