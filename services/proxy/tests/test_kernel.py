"""The rendered nftables ruleset on a real kernel, in namespaces the test makes: real TCP traffic reaches
endpoints through ClusterIPs and NodePorts, balances, sticks with ClientIP affinity, hairpins, and is
refused where there is no endpoint; a rebuild keeps established connections; cleanup leaves nothing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from netlab import GATEWAY, NetLab
from skiff_proxy import kernel
from skiff_proxy.model import Backend, ServicePort
from skiff_proxy.modes import IptablesMode
from skiff_proxy.nftables import Options, build, cleanup, render

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]

A, B, CLIENT = "10.244.0.2", "10.244.0.3", "10.244.0.4"
OPTS = Options(
    cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/16", nodeport_addresses=(GATEWAY,), pod_bridge="br0"
)


def sp(name: str, ip: str, *backends: str, node_port: int = 0, affinity: int = 0) -> ServicePort:
    eps = tuple(Backend(b, 8080) for b in backends)
    return ServicePort("default", name, "", "tcp", ip, 80, node_port, affinity, eps)


@pytest.fixture(scope="module")
def lab() -> Iterator[NetLab]:
    lab = NetLab()
    try:
        lab.pods = {  # type: ignore[attr-defined]
            "a": lab.add_pod("a", A),
            "b": lab.add_pod("b", B),
            "client": lab.add_pod("client", CLIENT),
        }
        lab.serve(lab.pods["a"], "pod-a", 8080)  # type: ignore[attr-defined]
        lab.serve(lab.pods["b"], "pod-b", 8080)  # type: ignore[attr-defined]
        yield lab
    finally:
        lab.close()


async def apply(lab: NetLab, *ports: ServicePort) -> None:
    await kernel.nft_apply(render(list(ports), OPTS), prefix=lab.prefix)


async def test_cluster_ip_balances_over_ready_endpoints(lab: NetLab) -> None:
    await apply(lab, sp("web", "10.96.0.10", A, B))
    answers = lab.connect(lab.pods["client"], "10.96.0.10", 80, n=40)  # type: ignore[attr-defined]
    assert set(answers) == {"pod-a", "pod-b"}  # 40 draws at 1/2 each: both (p of failing 2**-39)


async def test_service_without_endpoints_and_unknown_ports_are_refused(lab: NetLab) -> None:
    await apply(lab, sp("web", "10.96.0.10", A), sp("empty", "10.96.0.11"))
    client = lab.pods["client"]  # type: ignore[attr-defined]
    assert lab.connect(client, "10.96.0.11", 80) == ["ECONNREFUSED"]
    assert lab.connect(client, "10.96.0.10", 81) == ["ECONNREFUSED"]
    assert lab.connect(client, "10.96.0.10", 80) == ["pod-a"]


async def test_a_pod_reaches_itself_through_its_service(lab: NetLab) -> None:
    await apply(lab, sp("self", "10.96.0.12", A))
    assert lab.connect(lab.pods["a"], "10.96.0.12", 80, n=3) == ["pod-a"] * 3  # type: ignore[attr-defined]


async def test_client_ip_affinity_sticks(lab: NetLab) -> None:
    await apply(lab, sp("sticky", "10.96.0.13", A, B, affinity=60))
    answers = lab.connect(lab.pods["client"], "10.96.0.13", 80, n=12)  # type: ignore[attr-defined]
    assert len(set(answers)) == 1 and answers[0] in {"pod-a", "pod-b"}


async def test_node_port_on_the_node_address(lab: NetLab) -> None:
    await apply(lab, sp("np", "10.96.0.14", B, node_port=30080), sp("np-empty", "10.96.0.15", node_port=30081))
    client = lab.pods["client"]  # type: ignore[attr-defined]
    assert lab.connect(client, GATEWAY, 30080) == ["pod-b"]
    assert lab.connect(client, GATEWAY, 30081) == ["ECONNREFUSED"]


async def test_rebuild_keeps_established_connections_then_cleanup_removes_the_table(lab: NetLab) -> None:
    await apply(lab, sp("web", "10.96.0.10", A))
    held = lab.hold(lab.pods["client"], "10.96.0.10", 80)  # type: ignore[attr-defined]
    assert held.stdout is not None and held.stdin is not None
    assert held.stdout.readline().strip() == "pod-a"
    await apply(lab, sp("web", "10.96.0.10", B))  # new connections go to b now ...
    assert lab.connect(lab.pods["client"], "10.96.0.10", 80) == ["pod-b"]  # type: ignore[attr-defined]
    held.stdin.write("still-here\n")
    held.stdin.flush()
    assert held.stdout.readline().strip() == "still-here"  # ... the established one still reaches a
    await kernel.nft_apply(cleanup(OPTS.table), prefix=lab.prefix)
    assert await kernel.nft_list_table(OPTS.table, prefix=lab.prefix) == ""
    await kernel.nft_apply(cleanup(OPTS.table), prefix=lab.prefix)  # idempotent


async def test_incremental_sync_equals_a_full_rebuild(lab: NetLab) -> None:
    first = build(
        [sp("web", "10.96.0.10", A), sp("old", "10.96.0.20", B), sp("sticky", "10.96.0.13", A, affinity=60)], OPTS
    )
    await kernel.nft_apply(first.full(), prefix=lab.prefix)
    second = build(
        [
            sp("web", "10.96.0.10", A, B),
            sp("new", "10.96.0.21", B, node_port=30090),
            sp("sticky", "10.96.0.13", A, B, affinity=60),
        ],
        OPTS,
    )
    delta = second.delta(first)
    assert delta is not None and "delete table" not in delta and "old" in delta
    await kernel.nft_apply(delta, prefix=lab.prefix)
    client = lab.pods["client"]  # type: ignore[attr-defined]
    assert set(lab.connect(client, "10.96.0.10", 80, n=30)) == {"pod-a", "pod-b"}
    assert lab.connect(client, "10.96.0.21", 80) == ["pod-b"]
    assert lab.connect(client, "10.96.0.20", 80) == ["TimeoutError"]  # gone: an unallocated ClusterIP
    incremental = sorted((await kernel.nft_list_table(OPTS.table, prefix=lab.prefix)).splitlines())
    await kernel.nft_apply(second.full(), prefix=lab.prefix)
    rebuilt = sorted((await kernel.nft_list_table(OPTS.table, prefix=lab.prefix)).splitlines())
    assert incremental == rebuilt
    assert second.delta(second) == ""


@pytest.mark.skipif(not shutil.which("iptables-restore"), reason="needs iptables-restore")
async def test_iptables_mode_balances_refuses_hairpins_and_is_removed(lab: NetLab) -> None:
    await kernel.nft_apply(cleanup(OPTS.table), prefix=lab.prefix)
    mode = IptablesMode()
    ports = [sp("web", "10.96.0.10", A, B), sp("empty", "10.96.0.11"), sp("self", "10.96.0.12", A)]
    await mode.apply(mode.render(ports, OPTS).full(), OPTS, lab.prefix)
    await mode.apply(mode.render(ports, OPTS).full(), OPTS, lab.prefix)  # re-applying adds no second jump
    client, a = lab.pods["client"], lab.pods["a"]  # type: ignore[attr-defined]
    try:
        assert set(lab.connect(client, "10.96.0.10", 80, n=40)) == {"pod-a", "pod-b"}
        assert lab.connect(client, "10.96.0.11", 80) == ["ECONNREFUSED"]
        assert lab.connect(a, "10.96.0.12", 80, n=3) == ["pod-a"] * 3
        saved = await kernel.run_tool(["iptables-save"], "", prefix=lab.prefix)
        assert saved.count("-j SKIFF-SERVICES") == 2  # PREROUTING and OUTPUT, once each
    finally:
        await mode.remove(OPTS, lab.prefix)
    assert "SKIFF-" not in await kernel.run_tool(["iptables-save"], "", prefix=lab.prefix)


@pytest.mark.skipif(not shutil.which("iptables-restore"), reason="needs iptables-restore")
async def test_iptables_delta_names_only_changed_chains_and_equals_a_full_rebuild(lab: NetLab) -> None:
    """kube-proxy's MinimizeIPTablesRestore: a change rewrites the changed chains (and the SERVICES list),
    never the untouched Services' ones, and the kernel ends as a full rebuild would leave it."""
    await kernel.nft_apply(cleanup(OPTS.table), prefix=lab.prefix)
    mode = IptablesMode()
    keep = sp("keep", "10.96.0.30", A)
    first = mode.render([keep, sp("web", "10.96.0.10", A), sp("old", "10.96.0.20", B)], OPTS)
    second = mode.render([keep, sp("web", "10.96.0.10", A, B), sp("new", "10.96.0.21", B, node_port=30090)], OPTS)
    client = lab.pods["client"]  # type: ignore[attr-defined]

    def ours(saved: str) -> list[str]:
        return sorted(line for line in saved.splitlines() if "SKIFF-" in line and not line.startswith("#"))

    try:
        await mode.apply(first.full(), OPTS, lab.prefix)
        delta = second.delta(first)
        assert delta is not None
        untouched = [c for c, rules in first.nat.items() if second.nat.get(c) == rules]
        assert untouched and not any(f":{c} " in delta or f"-A {c} " in delta for c in untouched), delta
        await mode.apply(delta, OPTS, lab.prefix)
        assert set(lab.connect(client, "10.96.0.10", 80, n=30)) == {"pod-a", "pod-b"}
        assert lab.connect(client, "10.96.0.30", 80) == ["pod-a"]
        assert lab.connect(client, "10.96.0.21", 80) == ["pod-b"]
        incremental = ours(await kernel.run_tool(["iptables-save"], "", prefix=lab.prefix))
        await mode.remove(OPTS, lab.prefix)
        await mode.apply(second.full(), OPTS, lab.prefix)
        assert ours(await kernel.run_tool(["iptables-save"], "", prefix=lab.prefix)) == incremental
    finally:
        await mode.remove(OPTS, lab.prefix)
