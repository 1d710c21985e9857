"""Bootstrap signer and token cleaner against a real apiserver: cluster-info gets one verifiable JWS per
signing token, loses it when the token expires, and the expired token's Secret is deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from nodes_testlib import running
from skiff.api.core.v1 import config_pb2, namespace_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_common.bootstrap import clusterinfo, jws, token
from skiff_controllers.bootstrapsigner.controller import BootstrapSigner
from skiff_controllers.tokencleaner.controller import TokenCleaner

pytestmark = pytest.mark.etcd


async def _ensure_namespace(client: ApiClient, name: str) -> None:
    try:
        await client.create(namespace_pb2.Namespace(metadata=meta_pb2.ObjectMeta(name=name)))
    except errors.AlreadyExists:
        pass


async def _cluster_info(client: ApiClient) -> config_pb2.ConfigMap:
    for ns in (clusterinfo.NAMESPACE, token.NAMESPACE):
        await _ensure_namespace(client, ns)
    info = clusterinfo.ClusterInfo(server="https://127.0.0.1:6444", ca_pem=b"-----BEGIN CERTIFICATE-----\n")
    cm = config_pb2.ConfigMap(data={clusterinfo.KUBECONFIG_KEY: clusterinfo.kubeconfig(info)})
    cm.metadata.name, cm.metadata.namespace = clusterinfo.NAME, clusterinfo.NAMESPACE
    try:
        return await client.create(cm)
    except errors.AlreadyExists:
        return await client.get(config_pb2.ConfigMap, clusterinfo.NAME, clusterinfo.NAMESPACE)


async def test_signer_signs_each_signing_token_and_drops_expired_ones(client: ApiClient) -> None:
    cm = await _cluster_info(client)
    content = cm.data[clusterinfo.KUBECONFIG_KEY]
    lasting = token.generate(None)
    brief = token.generate(dt.timedelta(seconds=3))
    auth_only = token.generate(None, usages=("authentication",))
    for t in (lasting, brief, auth_only):
        await client.create(t.to_secret())
    async with running(client, BootstrapSigner), running(client, TokenCleaner):

        async def signed(ids: set[str]) -> config_pb2.ConfigMap | None:
            got = await client.get(config_pb2.ConfigMap, clusterinfo.NAME, clusterinfo.NAMESPACE)
            present = {k.removeprefix(clusterinfo.JWS_PREFIX) for k in got.data if k.startswith(clusterinfo.JWS_PREFIX)}
            return got if {lasting.id, brief.id, auth_only.id} & present == ids else None

        got = await eventually(lambda: signed({lasting.id, brief.id}), "signatures for the two signing tokens")
        for t in (lasting, brief):
            assert jws.verify_detached(got.data[clusterinfo.JWS_PREFIX + t.id], content, t.id, t.secret)
        # another token's secret does not verify the signature
        assert not jws.verify_detached(got.data[clusterinfo.JWS_PREFIX + lasting.id], content, lasting.id, brief.secret)

        await eventually(lambda: signed({lasting.id}), "the expired token's signature to go")

        async def cleaned() -> bool:
            try:
                await client.get(config_pb2.Secret, brief.secret_name, token.NAMESPACE)
            except errors.NotFound:
                return True
            return False

        await eventually(cleaned, "the token cleaner to delete the expired token")
        # the unexpired tokens stay
        await client.get(config_pb2.Secret, lasting.secret_name, token.NAMESPACE)
        await client.get(config_pb2.Secret, auth_only.secret_name, token.NAMESPACE)
