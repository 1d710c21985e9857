"""Fill a registry with the busybox image and write the runtime's registry hosts configuration, as
`skiff up` does for its own registry (docker-compose runs this as a one-shot service).

    python3 scripts/images/seed-registry.py REGISTRY(host:port) HOSTS_DIR IMAGE_DIR
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from skiff_cli.cluster import registry
from skiff_cli.cluster.local import BUSYBOX_TAGS

HERE = Path(__file__).resolve().parent


def main(address: str, hosts_dir: str, image_dir: str) -> int:
    deadline = time.monotonic() + 60
    while not registry.registry_ready(address):
        if time.monotonic() > deadline:
            print(f"seed-registry: no registry answers on {address}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    layout = Path(image_dir)
    if not (layout / "index.json").exists():
        subprocess.run([sys.executable, str(HERE / "build-busybox-image.py"), str(layout)], check=True)
    for tag in BUSYBOX_TAGS:
        registry.push_image(layout, address, f"library/busybox:{tag}")
    registry.write_mirror_config(Path(hosts_dir), address)
    print(f"seed-registry: busybox {', '.join(BUSYBOX_TAGS)} in {address}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(*sys.argv[1:]))
