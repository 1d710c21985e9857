"""skiff_client: typed asyncio clients for the Skiff apiserver and CRI runtimes, informers and queues.

Names are resolved lazily (PEP 562) so that importing a light module such as ``skiff_client.workqueue``
does not pull in gRPC stubs and the kind registry.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skiff_client.api import ApiClient, ObjectList, WatchEvent, resource_of
    from skiff_client.cri import CriClient
    from skiff_client.events import EventRecorder
    from skiff_client.informer import Informer, InformerFactory
    from skiff_client.store import Store, object_key, split_key
    from skiff_client.workqueue import RateLimitingQueue, ShutDown

_WHERE = {
    "ApiClient": "api",
    "ObjectList": "api",
    "WatchEvent": "api",
    "resource_of": "api",
    "CriClient": "cri",
    "EventRecorder": "events",
    "Informer": "informer",
    "InformerFactory": "informer",
    "Store": "store",
    "object_key": "store",
    "split_key": "store",
    "RateLimitingQueue": "workqueue",
    "ShutDown": "workqueue",
}

__all__ = [
    "ApiClient",
    "CriClient",
    "EventRecorder",
    "Informer",
    "InformerFactory",
    "ObjectList",
    "RateLimitingQueue",
    "ShutDown",
    "Store",
    "WatchEvent",
    "object_key",
    "resource_of",
    "split_key",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'skiff_client' has no attribute {name!r}")
    return getattr(importlib.import_module(f"skiff_client.{_WHERE[name]}"), name)
