"""skiff_client: typed asyncio clients for the Skiff apiserver and CRI runtimes, informers and queues.

Imports are lazy-free on purpose: ``from skiff_client import ApiClient, Informer`` loads everything.
"""

from skiff_client.api import ApiClient, ObjectList, WatchEvent, resource_of
from skiff_client.cri import CriClient
from skiff_client.informer import Informer, InformerFactory
from skiff_client.store import Store, object_key, split_key
from skiff_client.workqueue import RateLimitingQueue, ShutDown

__all__ = [
    "ApiClient",
    "CriClient",
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
