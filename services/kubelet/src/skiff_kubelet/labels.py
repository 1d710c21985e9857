"""Labels the kubelet puts on CRI sandboxes and containers.

They are how the kubelet finds its pods again after a restart: the runtime is the source of truth for
what runs, and ``io.kubernetes.pod.uid`` ties a sandbox back to a Pod object. The names are
Kubernetes' own so CRI tools (crictl) show familiar columns.
"""

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
# Marks objects this kubelet created, so cleanup never touches sandboxes made by other CRI clients.
MANAGED_BY = "io.skiff.managed-by"
MANAGED_BY_VALUE = "skiff-kubelet"
# Annotation on containers: "init" or "app"
CONTAINER_KIND = "io.skiff.container.kind"
