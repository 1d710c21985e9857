"""The mutating admission chain: kind -> plugins, run by the registry on every create.

Kubernetes runs mutating admission after decoding and defaulting and before validation, for every way
a request arrives; the registry's create path is that one place here (gRPC and REST alike).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skiff_apiserver.admission import default_tolerations

ON_CREATE: dict[str, tuple[Callable[[Any], None], ...]] = {
    "Pod": (default_tolerations.admit,),
}


def admit_create(kind: str, obj: Any) -> None:
    for plugin in ON_CREATE.get(kind, ()):
        plugin(obj)
