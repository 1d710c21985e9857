"""Typed skiff-metrics configuration (flags, SKIFF_* environment, --config file)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from skiff_client.tlsfiles import tls_from_files
from skiff_common.grpcutil import TLSConfig
from skiff_common.observability.metrics import parse_host_port

from skiff_metrics.rules import load_rules

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


def seconds(value: str, name: str) -> float:
    m = _DURATION.match(value.strip())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"--{name}: invalid duration {value!r} (use e.g. 15s, 500ms, 1m)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]


@dataclass
class MetricsConfig:
    apiserver: str = field(default="127.0.0.1:6443", metadata={"help": "apiserver address host:port"})
    tls_ca_file: str = field(
        default="", metadata={"help": "CA bundle (PEM): clients of --listen must present a certificate it signed"}
    )
    tls_cert_file: str = field(default="", metadata={"help": "client and serving certificate (PEM)"})
    tls_key_file: str = field(default="", metadata={"help": "private key (PEM)", "secret": True})
    tls_serving_cert_file: str = field(
        default="", metadata={"help": "serving certificate (serverAuth) of --listen (empty: --tls-cert-file)"}
    )
    tls_serving_key_file: str = field(
        default="", metadata={"help": "private key of --tls-serving-cert-file", "secret": True}
    )
    listen: str = field(
        default="127.0.0.1:10260", metadata={"help": "host:port serving metrics.k8s.io (HTTPS with TLS files)"}
    )
    kubelet_port: int = field(
        default=10250,
        metadata={"help": "port of each kubelet's /metrics/resource (its --metrics-address; HTTPS with TLS files)"},
    )
    metric_resolution: str = field(default="15s", metadata={"help": "how often every kubelet is scraped"})
    scrape_timeout: str = field(default="10s", metadata={"help": "time allowed for one kubelet's answer"})
    prometheus_url: str = field(default="", metadata={"help": "Prometheus serving custom metrics (empty: none)"})
    custom_metrics_rules: str = field(
        default="",
        metadata={
            "help": "prometheus-adapter rule file (rules, externalRules) mapping Prometheus series to "
            "custom.metrics.k8s.io and external.metrics.k8s.io metrics"
        },
    )
    metrics_address: str = field(default="", metadata={"help": "Prometheus endpoint host:port (empty: off)"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})

    def tls(self) -> TLSConfig | None:
        return tls_from_files(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)

    def serving_tls(self) -> TLSConfig | None:
        """What --listen serves with: its own serverAuth certificate when given (client certificates carry
        only clientAuth), else the client one."""
        if self.tls_serving_cert_file:
            return tls_from_files(self.tls_ca_file, self.tls_serving_cert_file, self.tls_serving_key_file)
        return self.tls()

    @property
    def resolution_s(self) -> float:
        return seconds(self.metric_resolution, "metric-resolution")

    @property
    def scrape_timeout_s(self) -> float:
        return seconds(self.scrape_timeout, "scrape-timeout")

    def validate(self) -> None:
        try:
            parse_host_port(self.listen)
        except ValueError:
            raise ValueError(f"--listen: expected host:port, got {self.listen!r}") from None
        if not 0 < self.kubelet_port < 65536:
            raise ValueError(f"--kubelet-port: must be 1-65535, got {self.kubelet_port}")
        self.resolution_s, self.scrape_timeout_s  # noqa: B018 - raise on bad durations
        if bool(self.prometheus_url) != bool(self.custom_metrics_rules):
            raise ValueError("--prometheus-url and --custom-metrics-rules: give both or neither")
        if self.custom_metrics_rules:
            load_rules(self.custom_metrics_rules)  # a ValueError names the rule and field
        self.tls()
