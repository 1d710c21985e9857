"""The `skiff-runtime` command: `import` into a state root, and `serve` answering on a unix socket."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import grpc
import pytest
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.cri.runtime.v1 import api_pb2_grpc
from skiff_runtime.images.store import ImageStore

BIN = Path(sys.executable).parent / "skiff-runtime"


def test_import_cli(tmp_path: Path, busybox_layout: Path) -> None:
    state = tmp_path / "state"
    out = subprocess.run(
        [str(BIN), "import", "--state-root", str(state), "--ref", "busybox:latest", str(busybox_layout)],
        capture_output=True,
        text=True,
        check=True,
    )
    image_id, tag = out.stdout.split()
    assert tag == "docker.io/library/busybox:latest"
    assert ImageStore(state).resolve("busybox").id == image_id  # type: ignore[union-attr]


def test_import_cli_bad_input(tmp_path: Path) -> None:
    out = subprocess.run(
        [str(BIN), "import", "--state-root", str(tmp_path), "--ref", "Bad:Ref", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert "lowercase" in out.stderr and "Traceback" not in out.stderr


def test_import_docker_save_archive(tmp_path: Path, busybox_layout: Path) -> None:
    """Rebuild the busybox image as a `docker save` archive (manifest.json, config, layer.tar); import it."""
    index = json.loads((busybox_layout / "index.json").read_text())
    blobs = busybox_layout / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    layer_tar = gzip.decompress((blobs / manifest["layers"][0]["digest"].split(":")[1]).read_bytes())
    archive = tmp_path / "saved.tar"
    config_name = manifest["config"]["digest"].split(":")[1] + ".json"
    docker_manifest = [{"Config": config_name, "RepoTags": ["example/bb:1"], "Layers": ["abc/layer.tar"]}]
    with tarfile.open(archive, "w") as tar:
        for name, data in (
            (config_name, (blobs / manifest["config"]["digest"].split(":")[1]).read_bytes()),
            ("abc/layer.tar", layer_tar),
            ("manifest.json", json.dumps(docker_manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    state = tmp_path / "state"
    out = subprocess.run(
        [str(BIN), "import", "--state-root", str(state), str(archive)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[1] == "docker.io/example/bb:1"
    record = ImageStore(state).resolve("example/bb:1")
    assert record is not None and record.repo_digests == [] and record.config.cmd == ["sh"]


@pytest.mark.root
def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    sock = tmp_path / "rt.sock"
    env = {**os.environ, "SKIFF_STATE_ROOT": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [
            str(BIN),
            "serve",
            "--listen",
            f"unix://{sock}",
            "--run-root",
            str(tmp_path / "run"),
            "--bridge",
            "skcri-srv",
            "--pod-cidr",
            "10.244.250.0/24",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)
        assert sock.exists(), proc.stderr.read1().decode() if proc.stderr else ""  # type: ignore[union-attr]
        with grpc.insecure_channel(f"unix://{sock}") as channel:
            version = api_pb2_grpc.RuntimeServiceStub(channel).Version(cri.VersionRequest(), timeout=10)
        assert version.runtime_name == "skiff"
        assert oct(sock.stat().st_mode & 0o777) == "0o600"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
