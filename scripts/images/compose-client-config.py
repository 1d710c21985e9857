"""Write the client configurations for a docker-compose cluster from its PKI folder: Skiff's own
(`client.yaml`, for `skiff --config`) and a kubeconfig (context `skiff`) for kubectl and skiff alike.

    python3 scripts/images/compose-client-config.py PKI_DIR GRPC_ADDRESS REST_URL
"""

from __future__ import annotations

import sys
from pathlib import Path

from skiff_cli import kubeconfig
from skiff_cli.clientconfig import ClientConfig, save_client_config
from skiff_common.grpcutil import TLSConfig


def main(pki: str, grpc_address: str, rest_url: str) -> int:
    folder = Path(pki)
    admin = TLSConfig(str(folder / "ca.crt"), str(folder / "admin.crt"), str(folder / "admin.key"))
    save_client_config(
        ClientConfig(grpc_address, admin.ca_file, admin.cert_file, admin.key_file), folder / "client.yaml"
    )
    kubeconfig.merge(rest_url, admin, folder / "kubeconfig")
    print(f"wrote {folder / 'client.yaml'} and {folder / 'kubeconfig'}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(*sys.argv[1:]))
