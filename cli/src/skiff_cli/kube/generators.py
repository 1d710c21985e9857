"""The objects `skiff create <generator>` builds, shaped as kubectl's generators shape them (labels
`app=<name>`, the container named after the image, restart policies), so the result is the one a kubectl
user expects. Pure functions: arguments in, a manifest out."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from .errors import CliError


def _meta(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **extra}
    if namespace:
        meta["namespace"] = namespace
    return meta


def container_name(image: str) -> str:
    """kubectl names a deployment's container after its image: `nginx` for `docker.io/library/nginx:1.25`."""
    base = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return re.sub(r"[^a-z0-9-]", "-", base.lower()).strip("-") or "container"


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {}, "status": {}}


def deployment(
    name: str, ns: str, images: list[str], replicas: int, port: int | None, command: list[str]
) -> dict[str, Any]:
    containers = []
    for image in images:
        c: dict[str, Any] = {"name": container_name(image), "image": image, "resources": {}}
        if command and len(images) == 1:
            c["command"] = command
        if port is not None:
            c["ports"] = [{"containerPort": port}]
        containers.append(c)
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, ns, labels=dict(labels)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": containers}},
        },
        "status": {},
    }


def _pod_template(name: str, image: str, command: list[str], restart: str) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image, "resources": {}}
    if command:
        c["command"] = command
    return {"metadata": {}, "spec": {"containers": [c], "restartPolicy": restart}}


def job(name: str, ns: str, image: str, command: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, ns),
        "spec": {"template": _pod_template(name, image, command, "Never")},
        "status": {},
    }


def job_from_cronjob(name: str, ns: str, cronjob: dict[str, Any]) -> dict[str, Any]:
    template = cronjob.get("spec", {}).get("jobTemplate", {})
    meta = cronjob.get("metadata", {})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(
            name,
            ns,
            annotations={"cronjob.kubernetes.io/instantiate": "manual"},
            labels=dict(template.get("metadata", {}).get("labels") or {}),
            ownerReferences=[
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": meta.get("name"),
                    "uid": meta.get("uid"),
                    "controller": True,
                }
            ],
        ),
        "spec": template.get("spec", {}),
    }


def cronjob(name: str, ns: str, image: str, schedule: str, restart: str, command: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(name, ns),
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "metadata": {"name": name},
                "spec": {"template": _pod_template(name, image, command, restart or "OnFailure")},
            },
        },
        "status": {},
    }


def _pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise CliError(f'error: invalid {flag}: "{v}" (expected key=value)')
        out.append((key, value))
    return out


def file_data(literals: list[str], files: list[str], env_files: list[str]) -> dict[str, bytes]:
    data: dict[str, bytes] = {}

    def put(key: str, value: bytes) -> None:
        if key in data:
            raise CliError(f"error: cannot add key {key}, another key by that name already exists in data")
        data[key] = value

    for key, value in _pairs(literals, "--from-literal"):
        put(key, value.encode())
    for spec in files:
        key, sep, path = spec.partition("=")
        if not sep:
            key, path = Path(spec).name, spec
        p = Path(path)
        if p.is_dir():
            for child in sorted(p.iterdir()):
                if child.is_file():
                    put(child.name, child.read_bytes())
            continue
        if not p.exists():
            raise CliError(f"error: error reading {path}: no such file or directory")
        put(key, p.read_bytes())
    for path in env_files:
        for line in Path(path).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                put(key.strip(), value.encode())
    return data


def configmap(name: str, ns: str, data: dict[str, bytes]) -> dict[str, Any]:
    text, binary = {}, {}
    for k, v in data.items():
        try:
            text[k] = v.decode()
        except UnicodeDecodeError:
            binary[k] = base64.b64encode(v).decode()
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, ns)}
    if text:
        cm["data"] = text
    if binary:
        cm["binaryData"] = binary
    return cm


def secret(name: str, ns: str, data: dict[str, bytes], kind: str = "") -> dict[str, Any]:
    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name, ns), "data": encoded}
    if kind:
        obj["type"] = kind
    return obj


def service(
    kind: str, name: str, ns: str, tcp: list[str], cluster_ip: str, node_port: int | None, external_name: str
) -> dict[str, Any]:
    types = {
        "clusterip": "ClusterIP",
        "nodeport": "NodePort",
        "loadbalancer": "LoadBalancer",
        "externalname": "ExternalName",
    }
    spec: dict[str, Any] = {"type": types[kind], "selector": {"app": name}}
    if kind == "externalname":
        spec["externalName"] = external_name
    else:
        ports = []
        for pair in tcp:
            port, _, target = pair.partition(":")
            try:
                entry: dict[str, Any] = {
                    "name": f"{port}-{target}" if target else port,
                    "port": int(port),
                    "protocol": "TCP",
                    "targetPort": int(target or port),
                }
            except ValueError:
                raise CliError(f'error: invalid --tcp "{pair}": expected port[:targetPort]') from None
            if node_port is not None:
                entry["nodePort"] = node_port
            ports.append(entry)
        if ports:
            spec["ports"] = ports
        if cluster_ip:
            spec["clusterIP"] = cluster_ip
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, ns, labels={"app": name}),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }
