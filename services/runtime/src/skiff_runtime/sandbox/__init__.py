"""Pod sandboxes: persisted namespaces, per-pod files, the pod cgroup and the lifecycle that ties them to CNI."""
