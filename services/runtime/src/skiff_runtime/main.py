"""skiff-runtime: the CRI server, and `skiff-runtime import` to load images without a registry.

    skiff-runtime [serve] [--listen unix:///run/skiff/runtime.sock] [--state-root ...] [--config FILE]
    skiff-runtime import [--state-root /var/lib/skiff/runtime] [--ref busybox:latest] PATH

`import` writes straight into the runtime's image store (content blobs, layer snapshots, image record), so
it works whether or not the server runs: the server reads image records from disk on every call. PATH is
an OCI image layout directory, an OCI layout tarball or a `docker save` tarball. Without --ref the name
comes from the layout's org.opencontainers.image.ref.name annotation or the docker-save RepoTags.

The server needs root: it mounts overlayfs, creates namespaces and cgroups and runs CNI plugins.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from skiff_runtime.config import RuntimeConfig


def _load_config(argv: Sequence[str]) -> RuntimeConfig:
    from skiff_common.config import load_config  # imported late: `import` does not need it

    return load_config(RuntimeConfig, list(argv))


async def serve(config: RuntimeConfig) -> None:
    from skiff_common.grpcutil import add_listen, create_server, serve_until_signal
    from skiff_common.observability import get_logger

    from skiff_runtime.runtime import Runtime
    from skiff_runtime.server import register

    log = get_logger("skiff_runtime")
    runtime = Runtime.build(config, streaming_address=config.streaming_address)
    await runtime.start()
    from prometheus_client import REGISTRY

    from skiff_runtime.metrics import RuntimeCollector

    REGISTRY.register(RuntimeCollector(runtime))
    server = create_server("runtime.v1")
    register(server, runtime)
    add_listen(server, config.listen, None)
    if config.listen.startswith("unix://"):
        os.chmod(config.listen.removeprefix("unix://"), 0o600)  # root-only, like containerd's socket
    ready, reason, message = runtime.network.readiness()
    log.info(
        "skiff-runtime serving",
        listen=config.listen,
        executor=runtime.executor.name,
        network_ready=ready,
        network_message=message or reason,
    )
    await serve_until_signal(server, on_shutdown=[runtime.stop])


def import_main(argv: Sequence[str]) -> int:
    from skiff_runtime.images.importer import ImportError_
    from skiff_runtime.images.reference import ReferenceError
    from skiff_runtime.runtime import Runtime

    parser = argparse.ArgumentParser(prog="skiff-runtime import", description="Import an image into the store.")
    parser.add_argument("path", type=Path, help="OCI layout dir, OCI layout tarball or docker-save tarball")
    parser.add_argument("--ref", help="name to give the image, e.g. busybox:latest (normalised like Docker)")
    parser.add_argument("--state-root", default=RuntimeConfig.state_root, help="the runtime's state root")
    args = parser.parse_args(argv)
    _, _, _, importer = Runtime.open_images(RuntimeConfig(state_root=args.state_root))
    try:
        record = importer.import_path(args.path, args.ref)
    except (ImportError_, ReferenceError, ValueError, OSError) as err:
        print(f"skiff-runtime import: {err}", file=sys.stderr)
        return 1
    print(f"{record.id} {' '.join(record.repo_tags)}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["import"]:
        sys.exit(import_main(args[1:]))
    if args[:1] == ["serve"]:
        args = args[1:]
    config = _load_config(args)
    from skiff_common.observability import setup_observability

    setup_observability("runtime", log_level=config.log_level, metrics_address=config.metrics_address or None)
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
