"""skiff-dns: cluster DNS for Skiff, the Kubernetes DNS specification served from informer caches."""
