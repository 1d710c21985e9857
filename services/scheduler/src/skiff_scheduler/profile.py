"""Profiles from a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) YAML.

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 0          # 0: adaptive (50 % minus 1 % per 125 nodes, >= 5 %, >= 100 nodes)
    profiles:
    - schedulerName: default-scheduler
      plugins:
        multiPoint: {enabled: [{name: X}], disabled: [{name: Y}]}
        score: {enabled: [{name: NodeResourcesFit, weight: 2}], disabled: [{name: "*"}]}
      pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated}}

As in kube-scheduler, the default plugins are enabled at every point they implement (multiPoint);
a point's ``disabled`` list removes them there (``*``: all defaults of that point), its ``enabled``
list appends. Each pod is scheduled by the profile whose schedulerName it names. Errors name the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

# kube-scheduler v1 default plugins (multiPoint) with their Score weights.
DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeBinding", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
)
POINTS = (
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
)
DEFAULT_SCHEDULER_NAME = "default-scheduler"


class ConfigError(ValueError):
    pass


@dataclass
class PointSet:
    enabled: list[tuple[str, int]] = field(default_factory=list)  # (name, weight 0 = default)
    disabled: list[str] = field(default_factory=list)


@dataclass
class ProfileConfig:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    percentage_of_nodes_to_score: int | None = None
    multi_point: PointSet = field(default_factory=PointSet)
    points: dict[str, PointSet] = field(default_factory=dict)
    plugin_args: dict[str, dict[str, Any]] = field(default_factory=dict)

    def plugins_for(self, point: str) -> tuple[list[tuple[str, int]], set[str]]:
        """(names with weights in order, names disabled) before filtering by what each plugin implements."""
        multi_disabled = set(self.multi_point.disabled)
        base = [] if "*" in multi_disabled else [(n, w) for n, w in DEFAULT_PLUGINS if n not in multi_disabled]
        base += [(n, w) for n, w in self.multi_point.enabled if n not in {b for b, _ in base}]
        ps = self.points.get(point, PointSet())
        off = set(ps.disabled)
        chosen = [] if "*" in off else [(n, w) for n, w in base if n not in off]
        for n, w in ps.enabled:
            chosen = [(c, cw) for c, cw in chosen if c != n] + [(n, w)]
        return chosen, off


@dataclass
class SchedulerConfiguration:
    percentage_of_nodes_to_score: int = 0
    profiles: list[ProfileConfig] = field(default_factory=lambda: [ProfileConfig()])


def _point_set(raw: Any, path: str) -> PointSet:
    if raw is None:
        return PointSet()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping with enabled/disabled")
    ps = PointSet()
    for i, item in enumerate(raw.get("enabled") or []):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"{path}.enabled[{i}].name: required")
        weight = item.get("weight", 0)
        if not isinstance(weight, int) or weight < 0 or weight > 100:
            raise ConfigError(f"{path}.enabled[{i}].weight: must be an integer in 0..100")
        ps.enabled.append((item["name"], weight))
    for i, item in enumerate(raw.get("disabled") or []):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"{path}.disabled[{i}].name: required")
        ps.disabled.append(item["name"])
    return ps


def _percentage(raw: Any, path: str) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= 100:
        raise ConfigError(f"{path}: must be an integer in 0..100")
    return raw


def parse_configuration(text: str) -> SchedulerConfiguration:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"scheduler config: not YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError("scheduler config: must be a mapping")
    kind = doc.get("kind", "KubeSchedulerConfiguration")
    if kind != "KubeSchedulerConfiguration":
        raise ConfigError(f"kind: must be KubeSchedulerConfiguration, not {kind!r}")
    cfg = SchedulerConfiguration(
        percentage_of_nodes_to_score=_percentage(doc.get("percentageOfNodesToScore"), "percentageOfNodesToScore") or 0
    )
    raw_profiles = doc.get("profiles")
    if raw_profiles is None:
        return cfg
    if not isinstance(raw_profiles, list) or not raw_profiles:
        raise ConfigError("profiles: must be a non-empty list")
    cfg.profiles = []
    seen: set[str] = set()
    for i, rp in enumerate(raw_profiles):
        path = f"profiles[{i}]"
        if not isinstance(rp, dict):
            raise ConfigError(f"{path}: must be a mapping")
        name = rp.get("schedulerName", DEFAULT_SCHEDULER_NAME)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}.schedulerName: required")
        if name in seen:
            raise ConfigError(f"{path}.schedulerName: duplicate profile {name!r}")
        seen.add(name)
        prof = ProfileConfig(name, _percentage(rp.get("percentageOfNodesToScore"), f"{path}.percentageOfNodesToScore"))
        plugins = rp.get("plugins") or {}
        if not isinstance(plugins, dict):
            raise ConfigError(f"{path}.plugins: must be a mapping")
        for key, raw in plugins.items():
            if key == "multiPoint":
                prof.multi_point = _point_set(raw, f"{path}.plugins.multiPoint")
            elif key in POINTS:
                prof.points[key] = _point_set(raw, f"{path}.plugins.{key}")
            else:
                raise ConfigError(
                    f"{path}.plugins.{key}: unknown extension point (known: multiPoint, {', '.join(POINTS)})"
                )
        for j, pc in enumerate(rp.get("pluginConfig") or []):
            if not isinstance(pc, dict) or not isinstance(pc.get("name"), str):
                raise ConfigError(f"{path}.pluginConfig[{j}].name: required")
            args = pc.get("args") or {}
            if not isinstance(args, dict):
                raise ConfigError(f"{path}.pluginConfig[{j}].args: must be a mapping")
            prof.plugin_args[pc["name"]] = args
        cfg.profiles.append(prof)
    return cfg


def load_configuration(path: str) -> SchedulerConfiguration:
    if not path:
        return SchedulerConfiguration()
    try:
        with open(path, encoding="utf-8") as f:
            return parse_configuration(f.read())
    except OSError as exc:
        raise ConfigError(f"--scheduler-config: cannot read {path}: {exc.strerror}") from None
