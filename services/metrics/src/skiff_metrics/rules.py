"""The rule file mapping Prometheus series to custom and external metrics, in prometheus-adapter's terms
(the subset Skiff implements; docs/autoscaling.md has the whole format):

    rules:                       # custom.metrics.k8s.io: a metric describing pods or another object
      - seriesQuery: 'http_requests_total{namespace!="",service!=""}'
        resources:
          overrides:             # series label -> the resource its value names
            namespace: {resource: namespace}
            service: {resource: service}
        name: {matches: "^(.*)_total$", as: "${1}_per_second"}
        metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)'
    externalRules:               # external.metrics.k8s.io: a metric of no Kubernetes object
      - seriesQuery: 'queue_messages_ready{queue!=""}'
        resources: {namespaced: false}      # default: the request's namespace is a matcher
        name: {as: "queue_messages"}
        metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'

A rule without `resources` maps `namespace` and `pod` (the common case of per-pod series). A query is
rendered by substituting <<.Series>>, <<.LabelMatchers>> (namespace, the objects asked for and the
metric's label selector as PromQL matchers) and <<.GroupBy>> (the resource's label; nothing for external
metrics). Errors are ValueErrors naming the rule and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from skiff_common import errors
from skiff_common.apimachinery.kinds import lookup_resource
from skiff_common.apimachinery.labels import Selector

_SERIES = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
DEFAULT_QUERY = "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"


def plural(resource: str) -> str:
    """ "service", "services", "svc" or "ingresses.networking.k8s.io" -> the plural without its group."""
    name = resource.strip().lower().split(".", 1)[0]
    try:
        return lookup_resource(name).resource
    except errors.SkiffError:  # a kind Skiff does not serve (an Ingress): apimachinery's guess
        if name.endswith("s") and not name.endswith("ss"):
            return name  # already a plural
        if name.endswith(("s", "x", "z", "ch", "sh")):
            return name + "es"
        if name.endswith("y") and name[-2:-1] not in ("a", "e", "i", "o", "u", ""):
            return name[:-1] + "ies"
        return name + "s"


@dataclass(frozen=True)
class Rule:
    series: str
    name: str
    query: str
    labels: dict[str, str] = field(default_factory=dict)  # resource plural -> series label ("pods" -> "pod")
    namespaced: bool = True

    @property
    def namespace_label(self) -> str:
        return self.labels.get("namespaces", "namespace")


@dataclass(frozen=True)
class Rules:
    custom: list[Rule]
    external: list[Rule]


def _rule(r: Any, where: str, external: bool) -> Rule:
    if not isinstance(r, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(r).__name__}")
    series_query = str(r.get("seriesQuery", ""))
    series = series_query.split("{", 1)[0].strip()
    if not _SERIES.fullmatch(series):
        raise ValueError(f"{where}.seriesQuery: no metric name in {series_query!r}")
    name = series
    naming = r.get("name") or {}
    if naming:
        if not isinstance(naming, dict):
            raise ValueError(f"{where}.name: expected {{matches, as}}")
        matches, as_ = str(naming.get("matches") or "^(.*)$"), str(naming.get("as") or "${1}")
        try:
            name = re.sub(matches, re.sub(r"\$\{(\d+)\}", r"\\\1", as_), series)
        except (re.error, IndexError) as exc:
            raise ValueError(f"{where}.name: {exc}") from None
    if not name or "/" in name:
        raise ValueError(f"{where}.name: {name!r} is not a valid metric name")
    resources = r.get("resources") or {}
    if not isinstance(resources, dict):
        raise ValueError(f"{where}.resources: expected {{overrides, namespaced}}")
    if "template" in resources:
        raise ValueError(f"{where}.resources.template: not supported, list the labels under resources.overrides")
    labels: dict[str, str] = {}
    for label, target in (resources.get("overrides") or {"namespace": {}, "pod": {}}).items():
        if not _LABEL.fullmatch(str(label)):
            raise ValueError(f"{where}.resources.overrides: {label!r} is not a Prometheus label name")
        resource = (target or {}).get("resource") or str(label)
        labels[plural(str(resource))] = str(label)
    if not external and not set(labels) - {"namespaces"}:
        raise ValueError(f"{where}.resources.overrides: no label names the object the metric describes")
    return Rule(series, name, str(r.get("metricsQuery") or DEFAULT_QUERY), labels,
                bool(resources.get("namespaced", True)))  # fmt: skip


def load_rules(path: str) -> Rules:
    """The rule file; a ValueError names the flag, rule and field that are wrong."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"--custom-metrics-rules: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("--custom-metrics-rules: expected a mapping with rules and externalRules")
    out: dict[str, list[Rule]] = {"rules": [], "externalRules": []}
    for section, found in out.items():
        seen: set[str] = set()
        for i, r in enumerate(data.get(section) or []):
            rule = _rule(r, f"--custom-metrics-rules: {section}[{i}]", section == "externalRules")
            if rule.name in seen:
                raise ValueError(f"--custom-metrics-rules: {section}[{i}].name: {rule.name!r} is defined twice")
            seen.add(rule.name)
            found.append(rule)
    return Rules(out["rules"], out["externalRules"])


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _alternatives(values: list[str] | frozenset[str]) -> str:
    # Label values and object names are [A-Za-z0-9._-]: '.' is their only regex metacharacter.
    return _quote("|".join(re.escape(v) for v in sorted(values)))


def selector_matchers(selector: Selector) -> list[str]:
    """A label selector as PromQL matchers; ValueError for what PromQL cannot say (gt, lt)."""
    out = []
    for req in selector.requirements:
        if not _LABEL.fullmatch(req.key):
            raise ValueError(f'"{req.key}" is not a Prometheus label name')
        values = sorted(req.values)
        if req.operator in ("=", "=="):
            out.append(f"{req.key}={_quote(values[0])}")
        elif req.operator == "!=":
            out.append(f"{req.key}!={_quote(values[0])}")
        elif req.operator == "in":
            out.append(f"{req.key}=~{_alternatives(req.values)}")
        elif req.operator == "notin":
            out.append(f"{req.key}!~{_alternatives(req.values)}")
        elif req.operator == "exists":
            out.append(f'{req.key}!=""')
        elif req.operator == "!":
            out.append(f'{req.key}=""')
        else:
            raise ValueError(f'operator "{req.operator}" of "{req.key}" has no PromQL matcher')
    return out


def render(rule: Rule, matchers: list[str], group_by: str) -> str:
    return (
        rule.query.replace("<<.Series>>", rule.series)
        .replace("<<.LabelMatchers>>", ",".join(matchers))
        .replace("<<.GroupBy>>", group_by)
    )


def object_query(rule: Rule, namespace: str, resource: str, names: list[str] | None, selector: Selector) -> str:
    """The query for objects of `resource` (plural) in `namespace`: every one (names None) or those named."""
    label = rule.labels[resource]
    matchers = [f"{rule.namespace_label}={_quote(namespace)}"]
    matchers.append(f'{label}!=""' if names is None else f"{label}=~{_alternatives(names)}")
    return render(rule, matchers + selector_matchers(selector), label)


def external_query(rule: Rule, namespace: str, selector: Selector) -> str:
    matchers = [f"{rule.namespace_label}={_quote(namespace)}"] if rule.namespaced else []
    return render(rule, matchers + selector_matchers(selector), "")
