"""skiff_common: the shared machinery every Skiff component builds on.

Layering: services -> skiff_client -> skiff_common -> skiff (generated API types). Modules:

* errors         domain exceptions and their single mapping to/from gRPC status (rich details)
* grpcutil       create_server / add_listen / create_channel / serve_until_signal and the interceptor stack
* observability  setup_observability, get_logger, get_tracer (JSON logs, Prometheus, OpenTelemetry)
* config         load_config / describe_config for dataclass-typed settings
* tasks          create_guarded_task / TaskSet for background work
* tls            ensure_cluster_pki: a quick test PKI (every certificate both client and server)
* pki            the cluster's PKI as kubeadm lays it out (one job per certificate, Kubernetes' identities)
* bootstrap      bootstrap tokens, cluster-info and its JWS, the bootstrap kubeconfig (join)
* apimachinery   API object helpers (owned separately)
"""
