"""/readyz on the apiserver's metrics port (what the kubelet's plain-HTTP probes ask) checks etcd and
start-up, not just that the process answers; a real etcd and the apiserver in-process."""

from __future__ import annotations

from skiff_apiserver.readiness import MetricsPortReadiness
from skiff_common.observability import health


async def test_readyz_checks_etcd_and_start_up(api) -> None:
    assert health.checks.run("readyz", only="etcd") == {"etcd": True}
    assert health.checks.run("readyz", only="apiserver-started") == {"apiserver-started": True}
    assert "etcd" not in health.checks.run("livez")  # an etcd outage takes it out of service, no restart


def test_etcd_check_fails_until_etcd_was_read() -> None:
    readiness = MetricsPortReadiness(client=None)  # type: ignore[arg-type]
    assert not readiness.etcd_fresh() and not readiness.started
    readiness.saw_etcd()
    assert readiness.etcd_fresh()
