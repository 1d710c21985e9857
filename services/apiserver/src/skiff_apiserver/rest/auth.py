"""Who is calling: the REST port's mutual TLS (the gRPC port's rules). The server certificate and the
cluster CA come from the apiserver's TLS flags; a client certificate is optional at the TLS layer and
required per request (server.py), so the health endpoints answer probes that have none. The user is the
certificate's CN, its groups the O entries, as kube-apiserver reads client certificates."""

from __future__ import annotations

import ssl

from aiohttp import web
from skiff_common.grpcutil import TLSConfig


def ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tls.ca_file)
    ctx.load_cert_chain(tls.cert_file, tls.key_file)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # required for the API, checked per request (see _public)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def peer_user(request: web.Request) -> tuple[str, list[str]] | None:
    """(user, groups) from the verified client certificate, None without one."""
    cert = request.transport.get_extra_info("peercert") if request.transport else None
    if not cert:
        return None
    user, groups = "", []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    return user, groups
