"""Rewrite every stored object of the encrypted resources under the current write key: after adding a
key first (rotation), after turning encryption on, or after putting identity first to turn it off.

Kubernetes' documented way is `kubectl get secrets -A -o json | kubectl replace -f -`, which relies on a
replace writing even an unchanged object; Skiff's registry skips writes that change nothing, so this
rewrites at the storage layer instead: each value not written by the current provider and key is read,
decrypted and written back with a compare on its mod revision (a concurrent writer wins; its write is
already under the current key).

    skiff-apiserver-rewrite-encrypted --encryption-provider-config FILE --etcd-endpoints ... [--etcd-*]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from skiff_apiserver.encryption.config import load
from skiff_apiserver.encryption.transformer import Transformer
from skiff_apiserver.storage.etcd import CompareFailed, EtcdClient, prefix_end


async def rewrite(client: EtcdClient, transformer: Transformer) -> tuple[int, int]:
    """(rewritten, already current) over every key the transformer encrypts."""
    rewritten = current = 0
    for prefix, _ in transformer.by_prefix:
        kvs = await client.range_raw(prefix, prefix_end(prefix))
        for key, raw, mod_revision in kvs:
            if not transformer.stale(key, raw):
                current += 1
                continue
            plaintext = transformer.from_storage(key, raw)
            try:
                await client.update(key, plaintext, mod_revision)
                rewritten += 1
            except CompareFailed:
                current += 1  # written meanwhile, by an apiserver: under the current key
    return rewritten, current


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="skiff-apiserver-rewrite-encrypted", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--encryption-provider-config", required=True)
    ap.add_argument("--etcd-endpoints", default="127.0.0.1:2379")
    ap.add_argument("--etcd-prefix", default="/registry")
    ap.add_argument("--etcd-cafile")
    ap.add_argument("--etcd-certfile")
    ap.add_argument("--etcd-keyfile")
    args = ap.parse_args(argv)
    from skiff_common.grpcutil import TLSConfig

    tls = None
    if args.etcd_cafile:
        tls = TLSConfig(ca_file=args.etcd_cafile, cert_file=args.etcd_certfile, key_file=args.etcd_keyfile)

    async def run() -> None:
        transformer = Transformer(args.etcd_prefix, load(args.encryption_provider_config))
        client = EtcdClient(args.etcd_endpoints.split(","), tls=tls)
        client.transformer = transformer
        try:
            done, current = await rewrite(client, transformer)
        finally:
            await client.close()
        print(f"rewrote {done} objects under the current key ({current} already were)")

    try:
        asyncio.run(run())
    except Exception as exc:  # a clear line, not a traceback
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
