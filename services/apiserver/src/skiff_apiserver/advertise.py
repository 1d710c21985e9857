"""The REST API on --advertise-address as well, so that pods reach it through the `kubernetes` Service.

kube-apiserver listens on all interfaces and advertises one of them. Skiff listens on 127.0.0.1 (network
safety: nothing but loopback and the cluster's own bridge), which a pod cannot reach, so when the advertised
address is another one (`skiff up` advertises the pod bridge's gateway) the REST API also listens there,
and only there. The bridge appears with the first pod, after the apiserver starts, so the socket is bound
with IP_FREEBIND and receives its traffic from then on, as skiff-dns does on the same address.
"""

from __future__ import annotations

import ipaddress
import socket

IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # linux/in.h; not exported by every Python build
IPV6_FREEBIND = 78  # linux/in6.h
ANY = {"", "0.0.0.0", "::"}


def needs_own_listener(listen_host: str, advertise: str) -> bool:
    """True when the advertised address is not already served by the listen address."""
    listen_host, advertise = listen_host.strip("[]"), advertise.strip("[]")
    return bool(advertise) and listen_host not in ANY and advertise != listen_host


def freebind_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on host:port; the address need not exist on the host yet."""
    family = socket.AF_INET6 if ipaddress.ip_address(host.strip("[]")).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
        else:
            sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(512)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
