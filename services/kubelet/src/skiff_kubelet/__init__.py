"""skiff_kubelet."""
