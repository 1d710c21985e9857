"""Kubernetes' bootstrap tokens and kubeadm's token discovery, shared by the CLI (token, init, join)
and the controllers (bootstrap signer, token cleaner).

* token         the `<id>.<secret>` token and its `bootstrap.kubernetes.io/token` Secret
* jws           the detached JWS (HS256, keyed by the token secret) over cluster-info's kubeconfig
* clusterinfo   the `cluster-info` ConfigMap in kube-public: the CA and the server, in a kubeconfig
"""
