"""The kubelet's device manager: Kubernetes' device plugin API (deviceplugin v1beta1), wire-compatible."""
