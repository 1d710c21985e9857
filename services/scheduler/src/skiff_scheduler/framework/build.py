"""Build a Framework from a profile: one instance per plugin, placed at each point it implements."""

from __future__ import annotations

from typing import Any

from skiff_scheduler.framework import interfaces as ifc
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.registry import Registry
from skiff_scheduler.framework.runtime import Framework
from skiff_scheduler.profile import DEFAULT_PLUGINS, POINTS, ConfigError, ProfileConfig

_DEFAULT_WEIGHTS = dict(DEFAULT_PLUGINS)

_PROTOCOL: dict[str, type] = {
    "queueSort": ifc.QueueSortPlugin,
    "preFilter": ifc.PreFilterPlugin,
    "filter": ifc.FilterPlugin,
    "postFilter": ifc.PostFilterPlugin,
    "preScore": ifc.PreScorePlugin,
    "score": ifc.ScorePlugin,
    "reserve": ifc.ReservePlugin,
    "permit": ifc.PermitPlugin,
    "preBind": ifc.PreBindPlugin,
    "bind": ifc.BindPlugin,
    "postBind": ifc.PostBindPlugin,
}


def build_framework(profile: ProfileConfig, registry: Registry, handle: Handle, percentage: int = 0) -> Framework:
    instances: dict[str, Any] = {}
    placed: dict[str, list[tuple[Any, int]]] = {}
    where = f"profile {profile.scheduler_name!r}"
    for point in POINTS:
        chosen, _ = profile.plugins_for(point)
        placed[point] = []
        for name, weight in chosen:
            if name not in registry:
                raise ConfigError(
                    f"{where}: plugins.{point}: unknown plugin {name!r} (known: {', '.join(registry.names())})"
                )
            if name not in instances:
                try:
                    instances[name] = registry.factory(name)(profile.plugin_args.get(name, {}), handle)
                except (ValueError, TypeError, KeyError) as exc:
                    raise ConfigError(f"{where}: pluginConfig[{name}].args: {exc}") from None
            plugin = instances[name]
            if not isinstance(plugin, _PROTOCOL[point]):
                if name in {n for n, _ in profile.points.get(point, _EMPTY).enabled}:
                    raise ConfigError(f"{where}: plugins.{point}: {name} does not implement {point}")
                continue  # a multiPoint plugin goes only where it has something to do
            if point == "score" and weight == 0:
                weight = _DEFAULT_WEIGHTS.get(name) or 1
            placed[point].append((plugin, weight))
    if len(placed["queueSort"]) != 1:
        raise ConfigError(f"{where}: plugins.queueSort: exactly one plugin must be enabled")
    if not placed["bind"]:
        raise ConfigError(f"{where}: plugins.bind: at least one plugin must be enabled")
    pct = profile.percentage_of_nodes_to_score
    fw = Framework(
        profile_name=profile.scheduler_name,
        handle=handle,
        queue_sort=placed["queueSort"][0][0],
        pre_filter=[p for p, _ in placed["preFilter"]],
        filter=[p for p, _ in placed["filter"]],
        post_filter=[p for p, _ in placed["postFilter"]],
        pre_score=[p for p, _ in placed["preScore"]],
        score=placed["score"],
        reserve=[p for p, _ in placed["reserve"]],
        permit=[p for p, _ in placed["permit"]],
        pre_bind=[p for p, _ in placed["preBind"]],
        bind=[p for p, _ in placed["bind"]],
        post_bind=[p for p, _ in placed["postBind"]],
        percentage_of_nodes_to_score=percentage if pct is None else pct,
        plugins={n: p for n, p in instances.items() if any(p is q for lst in placed.values() for q, _ in lst)},
    )
    handle.framework = fw
    return fw


class _Empty:
    enabled: list[tuple[str, int]] = []


_EMPTY: Any = _Empty()
