"""The cluster's public-key infrastructure, as kubeadm lays it out.

* files     PEM pairs written atomically (0600 keys) under an flock
* ca        the cluster CA and etcd's CA
* issue     CertProfile (one certificate, one job: server, client or peer) and the one signing routine
* profiles  kubeadm's certificates and Kubernetes' identities (CN = user, O = groups)
* cluster   ClusterPKI: ensure a set of profiles in a folder; the CA public-key hash joins pin
* identity  the user and groups a verified peer certificate names
* expiry    check-expiration and renew
"""

from .cluster import ClusterPKI, ca_cert_hash
from .identity import Identity, identity_of, peer_identity
from .issue import CertProfile
from .profiles import control_plane_profiles, kubelet_profiles, node_user

__all__ = [
    "CertProfile",
    "ClusterPKI",
    "Identity",
    "ca_cert_hash",
    "control_plane_profiles",
    "identity_of",
    "kubelet_profiles",
    "node_user",
    "peer_identity",
]
