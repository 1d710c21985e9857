"""A tiny Docker token service (the `realm` of distribution's token auth) for tests.

It checks basic credentials and hands out a JWT (ES256, the signing certificate in the `x5c` header)
granting the requested scopes. The registry trusts it because the same certificate is its
`rootcertbundle`. Counting requests lets tests see that one token serves a whole pull.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

SERVICE = "skiff-test-registry"
ISSUER = "skiff-test-issuer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    def __init__(self, cert: Path, key: Path, user: str, password: str) -> None:
        self.cert = cert
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        self._x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        self._key = loaded
        self._basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests += 1
                if self.headers.get("Authorization") != server._basic:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                body = json.dumps({"token": server.token(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self._http.server_address[1]}/token"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:  # repository:<name>:<actions>, the name may not contain ':' here
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER, "sub": "skiff", "aud": SERVICE, "iat": now, "nbf": now - 10, "exp": now + 300,
            "jti": secrets.token_hex(8), "access": access,
        }  # fmt: skip
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def registry_auth_yaml(self) -> str:
        return (
            f"auth: {{token: {{realm: '{self.realm}', service: {SERVICE}, issuer: {ISSUER}, "
            f"rootcertbundle: '{self.cert}'}}}}\n"
        )

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
