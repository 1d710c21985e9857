"""docker-compose.yml and the Helm chart, checked against the code they start.

No Docker engine or Kubernetes cluster runs here, so these artefacts cannot be started in CI. What can
drift silently is the wiring: a flag renamed in a service's config, a certificate file the services
expect but `skiff certs` does not make, a pod that loses its hardening. Each service's own config
loader parses the flags the artefacts pass it, and the chart is rendered by the real `helm`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from skiff_apiserver.config import ApiServerConfig
from skiff_cli.commands import certs
from skiff_common.config import ConfigError, load_config
from skiff_controllers.config import ControllersConfig
from skiff_dns.config import DnsConfig
from skiff_kubelet.config import KubeletConfig
from skiff_proxy.config import ProxyConfig
from skiff_runtime.config import RuntimeConfig
from skiff_scheduler.config import SchedulerConfig

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "skiff"
CONFIGS: dict[str, type[Any]] = {
    "apiserver": ApiServerConfig,
    "scheduler": SchedulerConfig,
    "controllers": ControllersConfig,
    "kubelet": KubeletConfig,
    "runtime": RuntimeConfig,
    "proxy": ProxyConfig,
    "dns": DnsConfig,
}
SUBCOMMANDS = {"runtime": "serve"}  # skiff-runtime's optional first word; the flags follow it


def parse_flags(service: str, args: list[str]) -> Any:
    if args[:1] == [SUBCOMMANDS.get(service)]:
        args = args[1:]
    try:
        return load_config(CONFIGS[service], args, env={}, exit_on_error=False)
    except ConfigError as exc:
        pytest.fail(f"{service}: {args}: {exc}")


def pki_paths(cfg: Any) -> set[str]:
    """The certificate and key paths a service was given (--tls-cert-file, --etcd-cafile, ...)."""
    return {v for k, v in vars(cfg).items() if k.endswith("file") and v}


ETCD_TLS_FLAGS = ("--cert-file=", "--key-file=", "--trusted-ca-file=")


def etcd_pki_paths(command: list[str]) -> set[str]:
    assert "--client-cert-auth" in command, "etcd must demand client certificates"
    return {arg.split("=", 1)[1] for arg in command if arg.startswith(ETCD_TLS_FLAGS)}


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The files `skiff certs` makes, relative to its --dir (what the compose pki volume holds, and the
    chart's two Secrets: the top folder, and etcd/)."""
    out = tmp_path_factory.mktemp("pki")
    for node in ("node-a", "node-b"):  # compose's two nodes (the chart's node is made the same way)
        args = argparse.Namespace(dir=out, hosts="127.0.0.1,apiserver", owner=None, node_name=node)
        assert asyncio.run(certs.run(args)) == 0
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}


# --- docker-compose.yml ---------------------------------------------------------------------------


def compose_services() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"])


# Compose service -> the program it runs (nodes come twice: node a and node b).
COMPOSE_PROGRAMS = {
    "apiserver": "apiserver",
    "scheduler": "scheduler",
    "controllers": "controllers",
    "dns": "dns",
    **{f"{name}-{node}": name for name in ("runtime", "kubelet", "proxy") for node in "ab"},
}
PKI_PREFIXES = ("/pki/", "${SKIFF_STATE:-/var/lib/skiff-compose}/pki/")


def test_compose_runs_every_service_from_the_one_image() -> None:
    services = compose_services()
    assert services["build"]["build"]["dockerfile"] == "images/Dockerfile"
    for name, program in COMPOSE_PROGRAMS.items():
        spec = services[name]
        assert spec["image"] == services["build"]["image"], name
        assert spec["environment"]["SKIFF_PROGRAM"] == f"skiff-{program}", name
        assert spec["network_mode"] == "host", f"{name}: compose must create no networks"
    assert set(CONFIGS) == set(COMPOSE_PROGRAMS.values())


def test_compose_binds_only_127_0_0_1() -> None:
    for name, spec in compose_services().items():
        assert spec.get("network_mode") == "host", name
        assert "ports" not in spec, f"{name}: nothing is published; every service binds 127.0.0.1"
        for arg in spec.get("command") or []:
            if isinstance(arg, str) and "0.0.0.0" in arg:
                pytest.fail(f"{name}: {arg} listens on every interface")


@pytest.mark.parametrize("service", sorted(COMPOSE_PROGRAMS))
def test_compose_flags_are_ones_the_service_accepts(service: str, pki_files: set[str]) -> None:
    cfg = parse_flags(COMPOSE_PROGRAMS[service], compose_services()[service]["command"])
    for path in pki_paths(cfg):
        relative = next((path.removeprefix(p) for p in PKI_PREFIXES if path.startswith(p)), path)
        assert relative in pki_files, f"{service}: {path} is not made"


def test_compose_etcd_serves_mutual_tls_from_the_etcd_pki(pki_files: set[str]) -> None:
    paths = etcd_pki_paths(compose_services()["etcd"]["command"])
    assert paths and {p.removeprefix("/pki/") for p in paths} <= {f for f in pki_files if f.startswith("etcd/")}


# --- Helm chart -----------------------------------------------------------------------------------


def helm() -> str:
    found = shutil.which("helm") or str(Path(sys.executable).parent / "helm")
    if not Path(found).exists():
        pytest.fail("helm not installed: it is a dev dependency (helm-binary), run `make install`")
    return found


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    out = subprocess.run([helm(), "template", "skiff", str(CHART)], check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_chart_lints_clean() -> None:
    result = subprocess.run([helm(), "lint", "--strict", str(CHART)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def workloads(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc
        for doc in rendered
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
    }


def test_chart_installs_the_control_plane(rendered: list[dict[str, Any]]) -> None:
    assert set(workloads(rendered)) == {"etcd", "apiserver", "scheduler", "controllers", "dns"}


@pytest.mark.parametrize("service", ["apiserver", "scheduler", "controllers", "dns"])
def test_chart_flags_certificates_and_hardening(
    service: str, rendered: list[dict[str, Any]], pki_files: set[str]
) -> None:
    pod = workloads(rendered)[service]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].split("/")[-1].startswith(f"skiff-{service}:")
    cfg = parse_flags(service, container["args"])
    for path in pki_paths(cfg):
        assert chart_pki_file(path) in pki_files, f"{service}: {path} is not in the PKI secrets"
    assert pod["securityContext"]["runAsNonRoot"] is True
    hardening = container["securityContext"]
    assert hardening["allowPrivilegeEscalation"] is False
    assert hardening["readOnlyRootFilesystem"] is True
    assert hardening["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["limits"]["memory"]


def chart_pki_file(path: str) -> str:
    """Where a mounted path comes from in `skiff certs`' output: /pki is the pki Secret, /etcd-pki (the
    apiserver's view) and the etcd pod's /pki the etcd Secret."""
    if path.startswith("/etcd-pki/"):
        return "etcd/" + path.removeprefix("/etcd-pki/")
    return path.removeprefix("/pki/")


def test_chart_etcd_serves_mutual_tls_from_the_etcd_secret(rendered: list[dict[str, Any]], pki_files: set[str]) -> None:
    pod = workloads(rendered)["etcd"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    paths = etcd_pki_paths(container["command"])
    assert {"etcd/" + p.removeprefix("/pki/") for p in paths} <= pki_files
    assert any(v.get("secret", {}).get("secretName") == "skiff-etcd-pki" for v in pod["volumes"])


def test_chart_service_ports_name_container_ports(rendered: list[dict[str, Any]]) -> None:
    pods = workloads(rendered)
    for svc in (doc for doc in rendered if doc["kind"] == "Service"):
        component = svc["spec"]["selector"]["app.kubernetes.io/component"]
        names = {p["name"] for c in pods[component]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in names, f"{svc['metadata']['name']}: {port}"
