"""Secrets and ConfigMaps for env and volumes, read from the apiserver (no cache: read at container
start only, so a restart picks up new values)."""

from __future__ import annotations

from skiff.api.core.v1 import config_pb2
from skiff_client import ApiClient
from skiff_common import errors


class ApiLookup:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        try:
            sec = await self.api.get(config_pb2.Secret, name, namespace)
        except errors.NotFound:
            return None
        data = dict(sec.data)
        for k, v in sec.string_data.items():  # normally folded into data by the apiserver
            data.setdefault(k, v.encode())
        return data

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            cm = await self.api.get(config_pb2.ConfigMap, name, namespace)
        except errors.NotFound:
            return None
        return dict(cm.data)
