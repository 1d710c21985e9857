"""The Helm chart's Secrets from `skiff certs` output: one per component, holding only that component's
certificate and key and the CA certificate it checks its peers with.

    skiff certs --dir pki --hosts <release>-apiserver,<release>-apiserver.<ns>.svc,<release>-etcd
    python3 scripts/helm-secrets.py --dir pki --release <release> [--signer] | kubectl apply -n <ns> -f -

Prints the Secrets as YAML (a v1 List) for `kubectl apply` or `skiff apply`; it talks to no cluster
itself. The CA's key is never in them: `--signer` adds a separate <release>-ca-signer Secret with the
cluster CA's certificate and key, for the controllers to sign kubelet certificates (values
controllers.signer.enabled=true). Standard library only, so it runs with any python3.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

# component -> {key in its Secret (the file name under /pki in its pods): file in `skiff certs` --dir}
SECRETS: dict[str, dict[str, str]] = {
    "apiserver": {
        "ca.crt": "ca.crt",
        "apiserver.crt": "apiserver.crt",
        "apiserver.key": "apiserver.key",
        "apiserver-kubelet-client.crt": "apiserver-kubelet-client.crt",
        "apiserver-kubelet-client.key": "apiserver-kubelet-client.key",
        "etcd-ca.crt": "etcd/ca.crt",
        "apiserver-etcd-client.crt": "etcd/apiserver-client.crt",
        "apiserver-etcd-client.key": "etcd/apiserver-client.key",
        "sa.key": "sa.key",  # signs ServiceAccount tokens; every replica needs the same one
    },
    "etcd": {"ca.crt": "etcd/ca.crt", "server.crt": "etcd/server.crt", "server.key": "etcd/server.key"},
    **{
        name: {"ca.crt": "ca.crt", f"{name}.crt": f"{name}.crt", f"{name}.key": f"{name}.key"}
        for name in ("scheduler", "controllers", "dns", "proxy")
    },
}
SIGNER = {"ca.crt": "ca.crt", "ca.key": "ca.key"}


def secret(name: str, component: str, release: str, files: dict[str, str], pki: Path) -> dict[str, object]:
    data = {}
    for key, relative in files.items():
        path = pki / relative
        if not path.is_file():
            raise SystemExit(f"helm-secrets: {path} is missing (run `skiff certs --dir {pki}` first)")
        data[key] = base64.b64encode(path.read_bytes()).decode()
    labels = {"app.kubernetes.io/name": "skiff", "app.kubernetes.io/instance": release}
    labels["app.kubernetes.io/component"] = component
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": labels},
        "type": "Opaque",
        "data": data,
    }


def secrets(pki: Path, release: str, *, signer: bool = False, components: list[str] | None = None) -> dict[str, object]:
    items = [
        secret(f"{release}-{component}-tls", component, release, SECRETS[component], pki)
        for component in (components or list(SECRETS))
    ]
    if signer:
        items.append(secret(f"{release}-ca-signer", "controllers", release, SIGNER, pki))
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="the folder `skiff certs --dir` wrote")
    parser.add_argument("--release", required=True, help="the Helm release name")
    parser.add_argument("--signer", action="store_true", help="also <release>-ca-signer with the CA key")
    parser.add_argument("--component", action="append", choices=sorted(SECRETS), help="only these (repeatable)")
    args = parser.parse_args(argv)
    # JSON is YAML: kubectl and skiff apply read it, and it needs no YAML library.
    json.dump(secrets(args.dir, args.release, signer=args.signer, components=args.component), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
