"""LimitRanger admission, as Kubernetes' plugin of that name: on pod create, the namespace's LimitRanges
give containers their default requests and limits, then bound them (rules in limitrange_rules.py).

It is one of the registry's async admission plugins, so it runs before the pod strategy's defaulting and
validation (the defaults it sets are then validated like the client's own values) and before ResourceQuota
admission, which therefore charges the defaulted amounts. LimitRanges are read from the watch cache.
A violation is Forbidden with Kubernetes' text: ``pods "x" is forbidden: maximum cpu usage per Container
is 2, but limit is 3``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.admission import limitrange_rules
from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.registry.strategy import Strategy
from skiff_apiserver.storage.watch_cache import WatchCache


class LimitRanger:
    def __init__(self, caches: dict[str, WatchCache]) -> None:
        self.caches = caches

    def _ranges(self, namespace: str) -> list[Any]:
        cache = self.caches.get("limitranges")
        return cache.list_objects(namespace, lambda _o: True) if cache else []

    async def admit_create(self, info: KindInfo, obj: Message, strategy: Strategy) -> None:
        if info.kind != "Pod":
            return
        pod: Any = obj
        ranges = self._ranges(pod.metadata.namespace)
        if not ranges:
            return
        limitrange_rules.apply_defaults(ranges, pod)
        problems = limitrange_rules.violations(ranges, pod)
        if problems:
            name = pod.metadata.name or pod.metadata.generate_name
            raise errors.Forbidden(f'pods "{name}" is forbidden: {limitrange_rules.aggregate(problems)}')

    def admit_update(self, info: KindInfo, new: Message, old: Message) -> None:
        """A pod's resources are immutable once created, so there is nothing to bound again."""

    def admit_delete(self, info: KindInfo, obj: Message) -> None:
        return None
