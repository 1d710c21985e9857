"""The shipped Prometheus configuration and rules: valid for Prometheus' own checker, and each alert
proven by promtool's unit tests (it fires when its condition holds long enough, and only then)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from monitoring_files import PROMETHEUS_CONFIG, RULE_TESTS, RULES, promtool


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, check=False)


def test_rules_pass_promtool_check() -> None:
    result = run("check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = run("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


PKI = "/var/lib/skiff/pki/"  # where `skiff up` keeps the certificates the kubelet jobs present


def test_scrape_config_is_valid_and_names_kubernetes_jobs(tmp_path: Path) -> None:
    # promtool insists the client certificate files exist: the config is checked with its pki directory
    # pointed at stand-in files, and the rule files at the shipped ones.
    text = PROMETHEUS_CONFIG.read_text()
    for name in ("ca.crt", "prometheus.crt", "prometheus.key"):
        assert PKI + name in text
        (tmp_path / name).write_text("")
    text = text.replace(PKI, f"{tmp_path}/").replace("rules/", f"{PROMETHEUS_CONFIG.parent}/rules/")
    checked = tmp_path / "prometheus.yml"
    checked.write_text(text)
    result = run("check", "config", str(checked))
    assert result.returncode == 0, result.stdout + result.stderr
    kubelet_jobs = [j for j in yaml.safe_load(text)["scrape_configs"] if j["job_name"].startswith("kubelet")]
    assert kubelet_jobs and all(j["scheme"] == "https" and "cert_file" in j["tls_config"] for j in kubelet_jobs)
    jobs = {job["job_name"] for job in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]}
    assert {"apiserver", "kube-scheduler", "kube-controller-manager", "kubelet", "kube-proxy", "coredns"} <= jobs


def test_every_alert_has_a_unit_test() -> None:
    alerts = {
        rule["alert"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    }
    untested = alerts - tested - UNTESTED_ON_PURPOSE
    assert not untested, f"alerts without a promtool test: {sorted(untested)}"


# The "component down" alerts share one expression shape (absent(up{job=...} == 1)); KubeAPIDown tests it.
UNTESTED_ON_PURPOSE = {
    "KubeSchedulerDown",
    "KubeControllerManagerDown",
    "KubeletDown",
    "KubeProxyDown",
    "CoreDNSDown",
    "KubeletPlegDurationHigh",
    "KubePersistentVolumeFillingUp",
}
