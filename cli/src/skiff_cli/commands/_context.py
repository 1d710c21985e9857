"""What every API command needs: a connected client and the namespace to work in."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from skiff_client.api import ApiClient
from skiff_common.apimachinery.kinds import KindInfo, lookup_resource
from skiff_common.errors import NotFound

from ..clientconfig import load_client_config


def add_namespace_flags(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    parser.add_argument("-n", "--namespace", default=None, help="the namespace (default: the config's, else 'default')")
    if all_namespaces:
        parser.add_argument("-A", "--all-namespaces", action="store_true", help="across all namespaces")


def namespace_of(args: argparse.Namespace) -> str:
    return args.namespace or load_client_config().namespace or "default"


@asynccontextmanager
async def api_client() -> AsyncIterator[ApiClient]:
    config = load_client_config()
    client = ApiClient.connect(config.server, tls=config.tls)
    try:
        yield client
    finally:
        await client.close()


def resolve_resource(name: str) -> KindInfo:
    """The kind behind `pods`, `po`, `deploy`, ...; an unknown one is the user's error, not the server's."""
    try:
        return lookup_resource(name)
    except NotFound as err:
        raise SystemExit(f"error: {err.message}") from None
