"""A real OCI distribution registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1.

Each registry gets a free port, its own config file and storage directory under the test's tmp dir, and
optionally htpasswd basic auth (bcrypt, the only hash distribution accepts) and TLS with a self-signed
certificate for 127.0.0.1. Images are pushed with `skopeo copy` from the busybox OCI layout. The access
log (the registry's stderr) is kept, so tests can count what was fetched. `stop()` terminates the process
we started (by its Popen handle) and waits for it.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

with warnings.catch_warnings():  # deprecated since 3.11, but the stdlib's only bcrypt (all distribution takes)
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and key) valid for IP 127.0.0.1."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=skiff-registry-test",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class RealRegistry:
    root: Path
    port: int
    user: str = ""
    password: str = ""
    tls: tuple[Path, Path] | None = None
    auth_yaml: str = ""  # e.g. token auth (tokenserver.py); user/password are then only for skopeo
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    def start(self) -> None:
        auth = self.auth_yaml
        if self.user and not auth:
            with_hash = crypt.crypt(self.password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))
            (self.root / "htpasswd").write_text(f"{self.user}:{with_hash}\n")
            auth = f"auth: {{htpasswd: {{realm: skiff-test, path: {self.root / 'htpasswd'}}}}}\n"
        tls = f", tls: {{certificate: {self.tls[0]}, key: {self.tls[1]}}}" if self.tls else ""
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: info, accesslog: {disabled: false}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.storage}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '{self.host}', secret: {secrets.token_hex(8)}{tls}}}\n" + auth
        )
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log.read_text()[-2000:]}")
            try:
                self._request("GET", "/v2/")
                return
            except urllib.error.HTTPError as err:
                if err.code == 401:
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _request(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> bytes:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else None
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return bytes(response.read())

    def push(self, layout: Path, repo_tag: str, fmt: str = "oci") -> None:
        """skopeo copy the (single-image) OCI layout to <this registry>/<repo_tag> as `oci` or `v2s2`."""
        argv = ["skopeo", "--insecure-policy", "copy", "--quiet", "--format", fmt, "--dest-tls-verify=false"]
        if self.user:
            argv += ["--dest-creds", f"{self.user}:{self.password}"]
        subprocess.run([*argv, f"oci:{layout}", f"docker://{self.host}/{repo_tag}"], check=True, capture_output=True)

    def manifest(self, repo: str, ref: str, accept: str) -> bytes:
        request_path = f"/v2/{repo}/manifests/{ref}"
        request = urllib.request.Request(f"{self.url}{request_path}", headers={"Accept": accept})
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else None
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return bytes(response.read())

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> None:
        self._request("PUT", f"/v2/{repo}/manifests/{ref}", body, media_type)

    def blob_file(self, digest: str) -> Path:
        hexpart = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"

    def blob_gets(self, digest: str) -> int:
        """How many times the blob was served (GET answered 200 or 307), from the access log."""
        needle = f'/blobs/{digest} HTTP/1.1" '
        return sum(
            1
            for line in self.log.read_text().splitlines()
            if '"GET ' in line and needle in line and (f"{needle}200" in line or f"{needle}307" in line)
        )


def start_registry(
    root: Path, *, user: str = "", password: str = "", tls: tuple[Path, Path] | None = None, auth_yaml: str = ""
) -> RealRegistry:
    """Start a registry; retries with another port if the one we picked was taken in between."""
    for _attempt in range(3):
        root.mkdir(parents=True, exist_ok=True)
        registry = RealRegistry(root=root, port=free_port(), user=user, password=password, tls=tls, auth_yaml=auth_yaml)
        try:
            registry.start()
            return registry
        except RuntimeError:
            registry.stop()
            if "address already in use" not in registry.log.read_text():
                raise
            shutil.rmtree(registry.storage, ignore_errors=True)
    raise RuntimeError("could not start docker-registry on a free port")


def index_of(entries: list[tuple[dict[str, object], str]]) -> bytes:
    """An OCI image index of (descriptor, architecture) entries, in the given order."""
    manifests = [{**desc, "platform": {"architecture": arch, "os": "linux"}} for desc, arch in entries]
    return json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    ).encode()
