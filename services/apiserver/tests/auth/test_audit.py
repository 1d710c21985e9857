"""Audit logging on a real apiserver: a Policy picks each request's level (first matching rule), events
are audit.k8s.io/v1 JSON lines with the user, verb, objectRef, response code and the authorizer's
decision, bodies at Request/RequestResponse; the file rotates by size."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from authz_testlib import start_secure
from rbac_helpers import attempt
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.audit.log import AuditLog, Record
from skiff_apiserver.audit.policy import parse
from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.user import authenticated

POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "rules": [
        {"level": "None", "users": ["noisy"]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["secrets"]}]},
        {"level": "None", "nonResourceURLs": ["/healthz*", "/version"]},
        {"level": "Metadata"},
    ],
}


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_audit_events_follow_the_policy(etcd, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    log = tmp_path / "audit" / "audit.log"
    cluster = await start_secure(etcd.endpoint, tmp_path, audit_log_path=str(log), audit_policy_file=str(policy))
    try:
        tls = cluster.cert("root", ("system:masters",))
        ctx = ssl.create_default_context(cafile=tls.ca_file)
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}, "stringData": {"k": "v"}}
        async with aiohttp.ClientSession() as http:
            url = cluster.rest_url + "/api/v1/namespaces/default/secrets"
            async with http.post(url, json=secret, ssl=ctx, headers={"User-Agent": "audit-test"}) as resp:
                assert resp.status == 201
            async with http.get(cluster.rest_url + "/healthz", ssl=ctx) as resp:
                assert resp.status == 200
        alice = cluster.as_user("alice")
        assert not (await attempt(alice.List(pb.ListRequest(resource="pods", namespace="default"))))[0]
        noisy = cluster.as_user("noisy")
        await attempt(noisy.List(pb.ListRequest(resource="pods", namespace="default")))
    finally:
        await cluster.close()
    events = _events(log)
    created = [e for e in events if e["verb"] == "create" and e.get("objectRef", {}).get("resource") == "secrets"]
    assert len(created) == 1
    e = created[0]
    assert e["kind"] == "Event" and e["apiVersion"] == "audit.k8s.io/v1" and e["stage"] == "ResponseComplete"
    assert e["level"] == "RequestResponse"
    assert e["user"]["username"] == "root" and "system:masters" in e["user"]["groups"]
    assert e["objectRef"] == {"resource": "secrets", "namespace": "default", "apiVersion": "v1"}
    assert e["responseStatus"]["code"] == 201 and e["userAgent"] == "audit-test"
    assert e["requestObject"]["stringData"] == {"k": "v"}
    assert e["responseObject"]["metadata"]["name"] == "s1"
    assert e["annotations"]["authorization.k8s.io/decision"] == "allow"
    refused = [e for e in events if e["user"]["username"] == "alice"]
    assert len(refused) == 1 and refused[0]["level"] == "Metadata"
    assert refused[0]["responseStatus"]["code"] == 403
    assert refused[0]["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert "requestObject" not in refused[0]
    assert not [e for e in events if e["user"]["username"] == "noisy"]
    assert not [e for e in events if e["requestURI"].startswith("/healthz")]


def test_rotation_keeps_the_newest_backups(tmp_path: Path) -> None:
    policy = parse({"kind": "Policy", "rules": [{"level": "Metadata"}]})
    log = AuditLog(str(tmp_path / "audit.log"), policy, max_backups=2)
    log.max_bytes = 2000
    record = Record(attrs=Attributes(authenticated("u", []), "get", "pods", namespace="default", name="p"))
    for _ in range(100):
        log.write(record, code=200, uri="/api/v1/namespaces/default/pods/p")
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit.log", "audit.log.1", "audit.log.2"]
    assert all(len(_events(tmp_path / n)) > 0 for n in names[1:])  # backups are whole files of events
    assert all(1000 < (tmp_path / n).stat().st_size < 4000 for n in names[1:])
