"""Printers of the namespace policy kinds, with the columns of Kubernetes' printers: ResourceQuota
(NAME, AGE, REQUEST, LIMIT: ``used/hard`` per resource, ``limits.*`` in LIMIT, the rest in REQUEST) and
LimitRange (NAME, CREATED AT)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from skiff_apiserver.rest.printers.common import Printer, age, column


def quota_cells(quota: Any) -> list[Any]:
    request: list[str] = []
    limit: list[str] = []
    hard, used = quota.status.hard, quota.status.used
    for name in sorted(hard):
        text = f"{name}: {used[name].value if name in used else '0'}/{hard[name].value}"
        (limit if name.split(".")[0] == "limits" and "." in name else request).append(text)
    return [quota.metadata.name, age(quota.metadata), ", ".join(request), ", ".join(limit)]


def _created(meta: Any) -> str:
    ts = meta.creation_timestamp.seconds
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


PRINTERS = {
    "ResourceQuota": Printer(
        [
            column("Name", "name"),
            column("Age"),
            column(
                "Request", description="Request represents a minimum amount of cpu/memory that a container may consume."
            ),
            column(
                "Limit",
                description="Limits control the maximum amount of cpu/memory that a container may use independent of "
                "contention on the node.",
            ),
        ],
        quota_cells,
    ),
    "LimitRange": Printer(
        [
            column("Name", "name"),
            column(
                "Created At",
                kind="date",
                description="CreationTimestamp is a timestamp representing the server time when this object was "
                "created.",
            ),
        ],
        lambda lr: [lr.metadata.name, _created(lr.metadata)],  # type: ignore[attr-defined]
    ),
}
