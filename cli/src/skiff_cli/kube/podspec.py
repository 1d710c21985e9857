"""Where a workload keeps its pod template, for `set image|env|resources` and `rollout`."""

from __future__ import annotations

from typing import Any

from .errors import CliError


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj.get("kind", "")
    spec = obj.setdefault("spec", {})
    if kind == "Pod":
        return dict(spec) if spec is None else spec
    if kind == "CronJob":
        return (
            spec.setdefault("jobTemplate", {}).setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
        )
    if "template" in spec:
        return spec["template"].setdefault("spec", {})
    raise CliError(f"error: {kind.lower()}s have no pod template")


def containers(obj: dict[str, Any], wanted: str = "*", *, init: bool = True) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    found = list(spec.get("containers") or [])
    if init:
        found += list(spec.get("initContainers") or [])
    return [c for c in found if wanted in ("*", "", c.get("name"))]
