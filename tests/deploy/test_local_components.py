"""`skiff up`'s wiring of skiff-metrics: given a Prometheus and a rule file, skiff-metrics gets both (as
skiff-metrics' own config loader parses them) and the apiserver aggregates every metrics API it serves."""

from __future__ import annotations

from pathlib import Path

from skiff_apiserver.config import ApiServerConfig
from skiff_apiserver.rest.aggregator import parse_backends
from skiff_cli.cluster import components
from skiff_cli.cluster.layout import ClusterLayout
from skiff_common.config import load_config
from skiff_common.grpcutil import TLSConfig
from skiff_metrics.config import MetricsConfig

RULES = """
externalRules:
  - seriesQuery: 'queue_messages_ready{queue!=""}'
    name: {as: "queue_messages"}
"""
TLS = TLSConfig("/pki/ca.crt", "/pki/c.crt", "/pki/c.key")


def test_metrics_gets_prometheus_and_rules_only_when_given(tmp_path: Path) -> None:
    plain = components.metrics(ClusterLayout(state_dir=tmp_path), TLS, TLS)
    assert not any(a.startswith(("--prometheus-url", "--custom-metrics-rules")) for a in plain.argv)
    (tmp_path / "rules.yaml").write_text(RULES)
    layout = ClusterLayout(
        state_dir=tmp_path, prometheus_url="http://127.0.0.1:9090", custom_metrics_rules=str(tmp_path / "rules.yaml")
    )
    cfg = load_config(MetricsConfig, components.metrics(layout, TLS, TLS).argv[1:], env={}, exit_on_error=False)
    assert (cfg.prometheus_url, cfg.custom_metrics_rules) == ("http://127.0.0.1:9090", str(tmp_path / "rules.yaml"))


def test_apiserver_aggregates_every_metrics_api_and_limits_users(tmp_path: Path) -> None:
    argv = components.apiserver(ClusterLayout(state_dir=tmp_path), TLS, TLS).argv[1:]
    cfg = load_config(ApiServerConfig, argv, env={}, exit_on_error=False)
    assert cfg.client_qps > 0 and cfg.authorization_mode == "Node,RBAC"
    assert set(parse_backends(cfg.aggregated_apis)) == {
        ("metrics.k8s.io", "v1beta1"),
        ("custom.metrics.k8s.io", "v1beta1"),
        ("custom.metrics.k8s.io", "v1beta2"),
        ("external.metrics.k8s.io", "v1beta1"),
    }
