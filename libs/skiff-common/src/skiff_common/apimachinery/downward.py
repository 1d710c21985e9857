"""The Downward API's vocabulary, shared by the apiserver (which validates it) and the kubelet (which
resolves it), so both accept exactly the same names."""

from __future__ import annotations

import re

# resourceFieldRef.resource: what a container's limits/requests expose.
RESOURCES = (
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
)
# fieldRef.fieldPath in a volume: only what is fixed for the pod's life or updated in place.
VOLUME_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations")
# One label or annotation: metadata.labels['key'] (groups: which map, the key).
SUBSCRIPT = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")
