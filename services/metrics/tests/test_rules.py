"""The prometheus-adapter rule file (rules.py): parsing with errors naming rule and field, label selectors
as PromQL matchers, and the rendered queries of custom (pods, objects) and external metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff_common.apimachinery.labels import EVERYTHING, parse_selector
from skiff_metrics.rules import external_query, load_rules, object_query, selector_matchers

RULES = """
rules:
  - seriesQuery: 'nginx_requests_total{namespace!="",service!=""}'
    resources:
      overrides:
        kubernetes_namespace: {resource: namespace}
        service: {resource: service}
        ingress: {group: networking.k8s.io, resource: ingress}
    name: {matches: "^nginx_(.*)_total$", as: "${1}_per_second"}
    metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)'
externalRules:
  - seriesQuery: 'queue_messages_ready{queue!=""}'
    name: {as: "queue_messages"}
  - seriesQuery: 'cloud_lb_requests{lb!=""}'
    resources: {namespaced: false}
    metricsQuery: 'max(<<.Series>>{<<.LabelMatchers>>})'
"""


def rules(tmp_path: Path, text: str = RULES):  # type: ignore[no-untyped-def]
    (tmp_path / "rules.yaml").write_text(text)
    return load_rules(str(tmp_path / "rules.yaml"))


def test_object_rules_map_labels_to_resources(tmp_path: Path) -> None:
    (rule,) = rules(tmp_path).custom
    assert rule.name == "requests_per_second"
    assert rule.labels == {"namespaces": "kubernetes_namespace", "services": "service", "ingresses": "ingress"}
    assert object_query(rule, "web", "services", ["front"], EVERYTHING) == (
        'sum(rate(nginx_requests_total{kubernetes_namespace="web",service=~"front"}[1m])) by (service)'
    )
    assert object_query(rule, "web", "ingresses", None, parse_selector("path=api")) == (
        'sum(rate(nginx_requests_total{kubernetes_namespace="web",ingress!="",path="api"}[1m])) by (ingress)'
    )


def test_external_rules_are_namespaced_unless_told(tmp_path: Path) -> None:
    queue, lb = rules(tmp_path).external
    assert (queue.name, lb.name) == ("queue_messages", "cloud_lb_requests")
    assert external_query(queue, "jobs", parse_selector("queue=emails")) == (
        'sum(queue_messages_ready{namespace="jobs",queue="emails"}) by ()'
    )
    assert external_query(lb, "jobs", EVERYTHING) == "max(cloud_lb_requests{})"


@pytest.mark.parametrize(
    ("selector", "matchers"),
    [
        ("a=b", ['a="b"']),
        ("a!=b", ['a!="b"']),
        ("a in (x.y,z)", ['a=~"x\\\\.y|z"']),
        ("a notin (x)", ['a!~"x"']),
        ("a", ['a!=""']),
        ("!a", ['a=""']),
        ("a=b,c!=d", ['a="b"', 'c!="d"']),
    ],
)
def test_selector_matchers(selector: str, matchers: list[str]) -> None:
    assert selector_matchers(parse_selector(selector)) == matchers


def test_selector_without_promql_equivalent() -> None:
    with pytest.raises(ValueError, match='operator "gt" of "a"'):
        selector_matchers(parse_selector("a>1"))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("rules: [{seriesQuery: '{pod!=\"\"}'}]", r"rules\[0\]\.seriesQuery: no metric name"),
        ("externalRules: [{seriesQuery: 'a'}, {seriesQuery: 'a'}]", r"externalRules\[1\]\.name: 'a' is defined twice"),
        ("rules: [{seriesQuery: 'a', resources: {template: '<<.Resource>>'}}]", r"rules\[0\]\.resources\.template"),
        ("rules: [{seriesQuery: 'a', resources: {overrides: {namespace: {resource: namespace}}}}]",
         r"rules\[0\]\.resources\.overrides: no label names the object"),
        ("rules: [{seriesQuery: 'a', resources: {overrides: {'bad-label': {}}}}]", r"'bad-label' is not a Prometheus"),
        ("rules: [{seriesQuery: 'a', name: {matches: '(', as: 'x'}}]", r"rules\[0\]\.name: "),
        ("- 1", "expected a mapping with rules and externalRules"),
    ],
)  # fmt: skip
def test_bad_rule_files_name_the_field(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        rules(tmp_path, text)
