"""The shipped Grafana dashboards: generated from build.py (never hand-edited), and every panel's query
valid PromQL for Prometheus' own parser. Whether each query returns data on a live cluster is
tests/e2e/test_monitoring.py's job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from monitoring_files import DASHBOARDS, ROOT, panel_queries, promtool


def test_dashboards_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "dashboards" / "build.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_six_dashboards_exist_with_unique_uids() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids)) == 6


def test_every_panel_has_a_datasource_and_distinct_ref_ids() -> None:
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == "${datasource}", (path.name, panel["title"])
            refs = [t["refId"] for t in panel["targets"]]
            assert refs and len(refs) == len(set(refs)) and all(refs), (path.name, panel["title"])


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule: a typo in a query fails here, not in Grafana."""
    rules = [
        {"record": f"panel:q{i}", "expr": expr}
        for i, (_, expr) in enumerate(q for path in DASHBOARDS for q in panel_queries(path))
    ]
    assert len(rules) > 30
    file = tmp_path / "panels.rules.yml"
    file.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", str(file)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
