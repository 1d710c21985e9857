"""Storage: the etcd client (`etcd`), per-request deadlines (`deadline`) and the watch cache."""
