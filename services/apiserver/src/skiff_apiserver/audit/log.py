"""Audit events (audit.k8s.io/v1 Event) as JSON lines, one per request at stage ResponseComplete, to a
file rotated by size (`--audit-log-path`, `--audit-log-maxsize` MB, `--audit-log-maxbackup` files kept:
`audit.log.1` is the newest backup), as kube-apiserver's log backend.

The transports record what happened (auth/gate.py keeps the request's attributes and the authorizer's
decision in the request's context); the event carries who (user, groups, source address, user agent),
what (verb, requestURI, objectRef), the outcome (responseStatus.code, the decision and reason as
annotations) and, at Request / RequestResponse levels, the request / response bodies when the port has
them as JSON (the REST port).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skiff_apiserver.audit.policy import Policy
from skiff_apiserver.auth.attributes import Attributes


@dataclass
class Record:
    """What a request leaves for its audit event (one per request, in a context variable)."""

    attrs: Attributes | None = None
    decision: str = ""
    reason: str = ""
    received: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


_record: contextvars.ContextVar[Record | None] = contextvars.ContextVar("skiff_apiserver_audit", default=None)


def begin() -> Record:
    r = Record()
    _record.set(r)
    return r


def current() -> Record | None:
    return _record.get()


def _ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditLog:
    def __init__(self, path: str, policy: Policy, *, max_size_mb: int = 100, max_backups: int = 10) -> None:
        self.path = Path(path)
        self.policy = policy
        self.max_bytes = max_size_mb * 1024 * 1024
        self.max_backups = max_backups
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8")

    def level(self, attrs: Attributes) -> str:
        return self.policy.level(attrs)

    def write(
        self,
        record: Record,
        *,
        code: int,
        uri: str,
        source: str = "",
        user_agent: str = "",
        request_object: Any = None,
        response_object: Any = None,
    ) -> None:
        a = record.attrs
        if a is None:
            return
        level = self.level(a)
        if level == "None":
            return
        event: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": str(uuid.uuid4()),
            "stage": "ResponseComplete",
            "requestURI": uri,
            "verb": a.verb,
            "user": {"username": a.user.name, "groups": list(a.user.groups)},
            "sourceIPs": [source] if source else [],
        }
        if user_agent:
            event["userAgent"] = user_agent
        if a.resource_request:
            ref = {"resource": a.resource, "namespace": a.namespace, "name": a.name, "apiGroup": a.api_group,
                   "apiVersion": a.api_version, "subresource": a.subresource}  # fmt: skip
            event["objectRef"] = {k: v for k, v in ref.items() if v}
        event["responseStatus"] = {"metadata": {}, "code": code}
        if level in ("Request", "RequestResponse") and request_object is not None:
            event["requestObject"] = request_object
        if level == "RequestResponse" and response_object is not None:
            event["responseObject"] = response_object
        event["requestReceivedTimestamp"] = _ts(record.received)
        event["stageTimestamp"] = _ts(dt.datetime.now(dt.UTC))
        if record.decision:
            event["annotations"] = {"authorization.k8s.io/decision": record.decision}
            if record.reason:
                event["annotations"]["authorization.k8s.io/reason"] = record.reason
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            if self._file.tell() >= self.max_bytes:
                self._rotate()

    def _rotate(self) -> None:
        self._file.close()
        for i in range(self.max_backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.max_backups > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            self._file.close()
