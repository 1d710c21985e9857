"""Priority admission, as Kubernetes' plugin of that name.

On pod create: ``spec.priorityClassName`` is resolved to ``spec.priority`` and the class's
``preemptionPolicy``; a pod without a class gets the globalDefault class if there is one, else 0. A
class that does not exist is refused (Forbidden), as is a pod that sets ``priority`` to something else
than its class's value. The two built-in classes (system-cluster-critical, system-node-critical)
resolve even when they are not stored. On PriorityClass create: at most one globalDefault.

Classes are read from the watch cache (etcd when the cache has not seen a class created a moment ago).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.strategies.priorityclass import SYSTEM_CLASSES
from skiff_apiserver.registry.strategy import Strategy
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import EtcdClient
from skiff_apiserver.storage.watch_cache import WatchCache

DEFAULT_POLICY = "PreemptLowerPriority"


class PriorityAdmission:
    def __init__(self, client: EtcdClient, prefix: str, caches: dict[str, WatchCache]) -> None:
        self.client = client
        self.prefix = prefix
        self.caches = caches
        self.info = kinds.lookup_resource("priorityclasses")

    async def _get(self, name: str) -> Any:
        key = codec.object_key(self.prefix, self.info, "", name)
        cache = self.caches.get(self.info.resource)
        found: Any = cache.get(key) if cache else None
        if found is None:
            kv, _ = await self.client.get(key)
            if kv is not None:
                found = codec.decode(self.info, kv.value, kv.mod_revision)
        return found

    def _global_default(self) -> Any:
        cache = self.caches.get(self.info.resource)
        if cache is None:
            return None
        defaults = [pc for pc in cache.list_objects("", lambda _o: True) if pc.global_default]  # type: ignore[attr-defined]
        # Several can exist after a race; Kubernetes takes the lowest value.
        return min(defaults, key=lambda pc: pc.value) if defaults else None  # type: ignore[attr-defined]

    async def admit_create(self, info: KindInfo, obj: Message, strategy: Strategy) -> None:
        if info.kind == "Pod":
            await self._admit_pod(obj)
        elif info.kind == "PriorityClass" and obj.global_default:  # type: ignore[attr-defined]
            existing = self._global_default()
            if existing is not None and existing.metadata.name != obj.metadata.name:  # type: ignore[attr-defined]
                raise errors.Invalid(
                    f'PriorityClass.scheduling.k8s.io "{obj.metadata.name}" is invalid',  # type: ignore[attr-defined]
                    [
                        errors.FieldError(
                            "globalDefault",
                            "Invalid value",
                            f"true: globalDefault must be unique: {existing.metadata.name} is already the default",
                        )
                    ],
                )

    async def _admit_pod(self, pod: Any) -> None:
        spec = pod.spec
        name = spec.priority_class_name
        value, policy = 0, DEFAULT_POLICY
        if name in SYSTEM_CLASSES:
            value = SYSTEM_CLASSES[name]
        elif name:
            pc = await self._get(name)
            if pc is None:
                raise errors.Forbidden(
                    f'pods "{pod.metadata.name}" is forbidden: no PriorityClass with name {name} was found'
                )
            value, policy = pc.value, pc.preemption_policy or DEFAULT_POLICY
        else:
            pc = self._global_default()
            if pc is not None:
                spec.priority_class_name = pc.metadata.name
                value, policy = pc.value, pc.preemption_policy or DEFAULT_POLICY
        if spec.HasField("priority") and spec.priority != value:
            raise errors.Forbidden(
                f'pods "{pod.metadata.name}" is forbidden: the integer value of priority ({spec.priority}) must not '
                f"be provided in pod spec; priority admission controller computed {value} from the given "
                "PriorityClass name"
            )
        spec.priority = value
        if spec.HasField("preemption_policy") and spec.preemption_policy != policy:
            raise errors.Forbidden(
                f'pods "{pod.metadata.name}" is forbidden: the string value of PreemptionPolicy '
                f"({spec.preemption_policy}) must not be provided in pod spec; priority admission controller "
                f"computed {policy} from the given PriorityClass name"
            )
        spec.preemption_policy = policy

    def admit_update(self, info: KindInfo, new: Message, old: Message) -> None:
        """A pod's priority is set once, at creation (the spec field is immutable after)."""

    def admit_delete(self, info: KindInfo, obj: Message) -> None:
        return None
