"""skiff-proxy: the node proxy (kube-proxy's job) -- Service virtual IPs programmed into the kernel."""
