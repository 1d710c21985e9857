"""Paths and helpers shared by the monitoring tests (the shipped rules, scrape config and dashboards)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "monitoring"
PROMETHEUS_CONFIG = ROOT / "prometheus" / "prometheus.yml"
RULES = sorted((ROOT / "prometheus" / "rules").glob("*.rules.yml"))
RULE_TESTS = sorted((ROOT / "prometheus" / "tests").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: run scripts/install-deps.sh (Debian package prometheus)"
    return found


def panel_queries(dashboard: Path) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every query of every panel, rows included."""
    panels = json.loads(dashboard.read_text())["panels"]
    stack = list(panels)
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels") or [])
        for target in panel.get("targets") or []:
            yield panel["title"], target["expr"]
