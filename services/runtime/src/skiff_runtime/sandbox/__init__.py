"""Pod sandboxes: pinned namespaces, per-pod files, the pod cgroup, and the lifecycle tying them to CNI."""
