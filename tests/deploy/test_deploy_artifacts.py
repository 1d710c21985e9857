"""docker-compose.yml and the Helm chart, checked against the code they start.

What can drift silently is the wiring: a flag renamed in a service's config, a certificate file the
services expect but `skiff certs` does not make, a pod that loses its hardening, a Secret mounted where
it does not belong. Each service's own config loader parses the flags the artefacts pass it; the chart is
rendered by the real `helm`, linted with its values.schema.json and validated by kubernetes-validate
--strict. Both are also started for real: tests/compose (docker compose up) and tests/helm (helm install
onto a Skiff cluster), in `make test-compose`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
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

RELEASE = "skiff"
REPLICATED = ("apiserver", "scheduler", "controllers", "dns")  # more than one replica by default
# Value sets the chart must render valid Kubernetes objects for.
VALUE_SETS = {
    "defaults": [],
    "skiff-hosted": ["--set", "etcd.workload=Deployment", "--set", "podDisruptionBudget.enabled=false"],
    "nodeport-signer-proxy": [
        *("--set", "apiserver.service.type=NodePort", "--set", "apiserver.service.nodePorts.https=30443"),
        *("--set", "controllers.signer.enabled=true", "--set", "proxy.enabled=true"),
    ],
    "single-replicas-external-etcd": [
        *("--set", "apiserver.replicas=1", "--set", "scheduler.replicas=1", "--set", "controllers.replicas=1"),
        *("--set", "dns.replicas=1", "--set", "etcd.endpoints=etcd-0.etcd:2379"),
    ],
    "loadbalancer": ["--set", "apiserver.service.type=LoadBalancer"],
}


def load_helm_secrets() -> Any:
    """scripts/helm-secrets.py, the Secrets the chart's pods mount (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("helm_secrets", REPO / "scripts" / "helm-secrets.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helm_secrets = load_helm_secrets()


def helm() -> str:
    found = shutil.which("helm") or str(Path(sys.executable).parent / "helm")
    if not Path(found).exists():
        pytest.fail("helm not installed: it is a dev dependency (helm-binary), run `make install`")
    return found


def render(*values: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [helm(), "template", RELEASE, str(CHART), *values], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render()


def test_chart_lints_clean() -> None:
    result = subprocess.run([helm(), "lint", "--strict", str(CHART)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_chart_renders_objects_kubernetes_validate_accepts(values: str, tmp_path: Path) -> None:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(render(*VALUE_SETS[values])))
    validate = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run([str(validate), "--strict", "--quiet", str(manifest)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("apiserver.bogus=1", "bogus"),
        ("apiserver.service.type=ExternalName", "type"),
        ("etcd.workload=ReplicaSet", "workload"),
        ("dns.replicas=0", "replicas"),
    ],
)
def test_chart_schema_refuses_bad_values_naming_the_field(value: str, field: str) -> None:
    result = subprocess.run([helm(), "template", RELEASE, str(CHART), "--set", value], capture_output=True, text=True)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr and field in result.stderr


def workloads(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc
        for doc in rendered
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
    }


def test_chart_installs_the_control_plane(rendered: list[dict[str, Any]]) -> None:
    assert set(workloads(rendered)) == {"etcd", "apiserver", "scheduler", "controllers", "dns"}
    assert workloads(rendered)["etcd"]["kind"] == "StatefulSet"
    headless = next(d for d in rendered if d["kind"] == "Service" and d["metadata"]["name"] == "skiff-etcd-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert workloads(rendered)["etcd"]["spec"]["serviceName"] == "skiff-etcd-headless"


@pytest.mark.parametrize("service", ["apiserver", "scheduler", "controllers", "dns"])
def test_chart_flags_certificates_and_hardening(
    service: str, rendered: list[dict[str, Any]], pki_files: set[str]
) -> None:
    pod = workloads(rendered)[service]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].split("/")[-1].startswith(f"skiff-{service}:")
    assert container["command"] == [f"skiff-{service}"]
    cfg = parse_flags(service, container["args"])
    own = helm_secrets.SECRETS[service]
    for path in pki_paths(cfg):
        assert path.startswith("/pki/"), f"{service}: {path} is not in its Secret"
        assert path.removeprefix("/pki/") in own, f"{service}: {path} is not in its Secret"
        assert own[path.removeprefix("/pki/")] in pki_files, f"{service}: {path} is not made by skiff certs"
    assert pod["securityContext"]["runAsNonRoot"] is True
    hardening = container["securityContext"]
    assert hardening["allowPrivilegeEscalation"] is False
    assert hardening["readOnlyRootFilesystem"] is True
    assert hardening["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["limits"]["memory"]


def secret_volumes(pod: dict[str, Any]) -> set[str]:
    return {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_chart_each_pod_mounts_only_its_own_secret(values: str) -> None:
    signer = "controllers.signer.enabled=true" in VALUE_SETS[values]
    for component, workload in workloads(render(*VALUE_SETS[values])).items():
        pod = workload["spec"]["template"]["spec"]
        wanted = {f"{RELEASE}-{component}-tls"} | (
            {f"{RELEASE}-ca-signer"} if signer and component == "controllers" else set()
        )
        assert secret_volumes(pod) == wanted, component
        assert set(helm_secrets.SECRETS[component]) >= {"ca.crt"}


def test_no_ca_key_in_the_cluster_unless_the_signer_is_opted_in(pki_files: set[str], tmp_path: Path) -> None:
    assert all(not f.endswith("ca.key") for files in helm_secrets.SECRETS.values() for f in files.values())
    assert "ca.key" not in yaml.safe_dump_all(render())
    with_signer = workloads(render("--set", "controllers.signer.enabled=true"))
    for component, workload in with_signer.items():
        mentions = "ca.key" in yaml.safe_dump(workload)
        assert mentions == (component == "controllers"), component
    # the script's output: every component's Secret without a CA key; the signer's only with --signer
    pki = tmp_path / "pki"
    for node in ("node-a",):
        assert (
            asyncio.run(
                certs.run(argparse.Namespace(dir=pki, hosts="skiff-apiserver,skiff-etcd", owner=None, node_name=node))
            )
            == 0
        )
    plain = helm_secrets.secrets(pki, RELEASE)["items"]
    assert [s["metadata"]["name"] for s in plain] == [f"{RELEASE}-{c}-tls" for c in helm_secrets.SECRETS]
    assert not any(key.endswith("ca.key") for s in plain for key in s["data"])
    signer = helm_secrets.secrets(pki, RELEASE, signer=True)["items"][-1]
    assert signer["metadata"]["name"] == f"{RELEASE}-ca-signer" and set(signer["data"]) == {"ca.crt", "ca.key"}


@pytest.mark.parametrize("values", ["defaults", "nodeport-signer-proxy"])
def test_chart_every_container_probes_liveness_and_readiness_on_named_ports(values: str) -> None:
    for component, workload in workloads(render(*VALUE_SETS[values])).items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            names = {p["name"] for p in container["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                action = container[probe]["httpGet"]
                assert isinstance(action["port"], str) and action["port"] in names, f"{component} {probe}"
                assert action["path"] in ("/livez", "/readyz", "/health", "/healthz"), f"{component} {probe}"
            if component not in ("etcd", "proxy"):  # Skiff's own health endpoints (skiff_common health)
                assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
                assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_chart_a_pdb_and_anti_affinity_for_each_replicated_component(values: str) -> None:
    docs = render(*VALUE_SETS[values])
    pdbs = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for d in docs
        if d["kind"] == "PodDisruptionBudget"
    }
    replicated = {c for c, w in workloads(docs).items() if w["kind"] != "DaemonSet" and w["spec"]["replicas"] > 1}
    pdb_on = "podDisruptionBudget.enabled=false" not in VALUE_SETS[values]
    assert pdbs == (replicated if pdb_on else set())
    for component, workload in workloads(docs).items():
        affinity = workload["spec"]["template"]["spec"].get("affinity", {})
        preferred = affinity.get("podAntiAffinity", {}).get("preferredDuringSchedulingIgnoredDuringExecution", [])
        assert bool(preferred) == (component in replicated), component
    if values == "defaults":
        assert replicated == set(REPLICATED)


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_chart_a_tokenless_service_account_per_component(values: str) -> None:
    docs = render(*VALUE_SETS[values])
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    for component, workload in workloads(docs).items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == f"{RELEASE}-{component}"
        assert accounts[pod["serviceAccountName"]]["automountServiceAccountToken"] is False
        assert pod["automountServiceAccountToken"] is False
    assert len(accounts) == len(workloads(docs))


@pytest.mark.parametrize("kind", ["ClusterIP", "NodePort", "LoadBalancer"])
def test_chart_apiserver_service_type_is_configurable(kind: str) -> None:
    docs = render("--set", f"apiserver.service.type={kind}", "--set", "apiserver.service.nodePorts.https=30443")
    svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == f"{RELEASE}-apiserver")
    assert svc["spec"]["type"] == kind
    https = next(p for p in svc["spec"]["ports"] if p["name"] == "https")
    assert https.get("nodePort") == (None if kind == "ClusterIP" else 30443)


def test_chart_etcd_serves_mutual_tls_from_its_own_secret(rendered: list[dict[str, Any]], pki_files: set[str]) -> None:
    pod = workloads(rendered)["etcd"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    paths = etcd_pki_paths(container["command"])
    own = helm_secrets.SECRETS["etcd"]
    assert {own[p.removeprefix("/pki/")] for p in paths} <= {f for f in pki_files if f.startswith("etcd/")}
    assert secret_volumes(pod) == {f"{RELEASE}-etcd-tls"}


def test_chart_service_ports_name_container_ports(rendered: list[dict[str, Any]]) -> None:
    pods = workloads(rendered)
    for svc in (doc for doc in rendered if doc["kind"] == "Service"):
        component = svc["spec"]["selector"]["app.kubernetes.io/component"]
        names = {p["name"] for c in pods[component]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in names, f"{svc['metadata']['name']}: {port}"


def render_notes(tmp_path: Path, *values: str) -> str:
    """NOTES.txt as `helm install` prints it. `helm install --dry-run` needs a cluster, so a copy of the
    chart carries NOTES.txt inside a ConfigMap template that `helm template` renders."""
    chart = tmp_path / "chart"
    if not chart.exists():
        shutil.copytree(CHART, chart)
        notes = (CHART / "templates" / "NOTES.txt").read_text()
        wrapped = "".join(f"    {line}\n" for line in notes.splitlines())
        (chart / "templates" / "notes-as-configmap.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: notes}}\ndata:\n  notes: |\n{wrapped}"
        )
    out = subprocess.run(
        [helm(), "template", RELEASE, str(chart), "--show-only", "templates/notes-as-configmap.yaml", *values],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return str(yaml.safe_load(out)["data"]["notes"])


def test_notes_tell_how_to_reach_the_apiserver_and_join_nodes(tmp_path: Path) -> None:
    for kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        notes = render_notes(tmp_path, "--set", f"apiserver.service.type={kind}")
        assert "skiff token create --print-join-command" in notes
        assert "scripts/helm-secrets.py" in notes and "skiff certs --dir pki" in notes
        assert ("nodePort" in notes) == (kind == "NodePort")
        assert ("port-forward" in notes) == (kind == "ClusterIP")


def test_chart_ships_every_grafana_dashboard_for_the_sidecar(rendered: list[dict[str, Any]]) -> None:
    maps = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "ConfigMap"}
    sources = sorted((REPO / "monitoring" / "dashboards").glob("*.json"))
    assert sources and len(maps) == len(sources)
    for source in sources:
        cm = maps[f"{RELEASE}-dashboard-{source.stem}"]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["data"] == {source.name: source.read_text()}
    assert not [d for d in render("--set", "dashboards.enabled=false") if d["kind"] == "ConfigMap"]


def test_compose_and_chart_authorize_as_kubeadm_does(rendered: list[dict[str, Any]]) -> None:
    """Node,RBAC with a shared ServiceAccount key and per-user limits; controllers act as their
    ServiceAccounts (docs/security.md) -- in compose as in the chart, as in `skiff up`."""
    pods = workloads(rendered)
    for where, apiserver, controllers in (
        ("compose", compose_services()["apiserver"]["command"], compose_services()["controllers"]["command"]),
        (
            "chart",
            pods["apiserver"]["spec"]["template"]["spec"]["containers"][0]["args"],
            pods["controllers"]["spec"]["template"]["spec"]["containers"][0]["args"],
        ),
    ):
        api = parse_flags("apiserver", apiserver)
        assert api.authorization_mode == "Node,RBAC", where
        assert api.service_account_signing_key_file and api.client_qps > 0, where
        assert parse_flags("controllers", controllers).use_service_account_credentials, where
