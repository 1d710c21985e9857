"""Secrets and ConfigMaps for env and volumes, read from the apiserver (no cache: read at container
start, and by the periodic volume refresh, which keeps ``immutable: true`` objects per pod instead of
reading them again: ``is_immutable`` says which ones were, ``volume_refresh.py``); ServiceAccount tokens
for projected volumes, asked for through TokenRequest bound to the pod (the Node authorizer lets a
kubelet do that only for pods bound to its node; projected.TokenManager caches them)."""

from __future__ import annotations

from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff.api.core.v1 import config_pb2
from skiff_client import ApiClient
from skiff_common import errors


class ApiLookup:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        # (kind, namespace, name) of the objects that were immutable when last read.
        self._immutable: set[tuple[str, str, str]] = set()

    def is_immutable(self, kind: str, namespace: str, name: str) -> bool:
        return (kind, namespace, name) in self._immutable

    def _note(self, kind: str, namespace: str, name: str, immutable: bool) -> None:
        if immutable:
            self._immutable.add((kind, namespace, name))
        else:
            self._immutable.discard((kind, namespace, name))

    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        try:
            sec = await self.api.get(config_pb2.Secret, name, namespace)
        except errors.NotFound:
            self._note("Secret", namespace, name, False)
            return None
        self._note("Secret", namespace, name, sec.immutable)
        data = dict(sec.data)
        for k, v in sec.string_data.items():  # normally folded into data by the apiserver
            data.setdefault(k, v.encode())
        return data

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            cm = await self.api.get(config_pb2.ConfigMap, name, namespace)
        except errors.NotFound:
            self._note("ConfigMap", namespace, name, False)
            return None
        self._note("ConfigMap", namespace, name, cm.immutable)
        return dict(cm.data)

    async def service_account_token(
        self, namespace: str, service_account: str, pod_name: str, pod_uid: str, audience: str, seconds: int
    ) -> tuple[str, float]:
        req = an.TokenRequest()
        req.metadata.name, req.metadata.namespace = service_account, namespace
        if audience:
            req.spec.audiences.append(audience)
        req.spec.expiration_seconds = seconds
        ref = req.spec.bound_object_ref
        ref.kind, ref.api_version, ref.name, ref.uid = "Pod", "v1", pod_name, pod_uid
        made = await self.api.create(req)
        return made.status.token, float(made.status.expiration_timestamp.seconds)
