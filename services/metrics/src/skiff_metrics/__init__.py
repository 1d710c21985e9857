"""skiff-metrics: metrics-server for Skiff (scrape kubelets, keep the latest window, serve metrics.k8s.io)."""
