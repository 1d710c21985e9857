"""Bootstrap tokens and cluster-info through the API, for `skiff init`, `skiff up` and `skiff token`.

The CLI writes tokens as Kubernetes stores them (Secrets in kube-system, skiff_common.bootstrap.token)
and publishes kube-public/cluster-info with the CA and the apiserver's address; the bootstrap signer
controller adds the signatures, so `skiff join` can check cluster-info with its token.
"""

from __future__ import annotations

import datetime as dt

from skiff.api.core.v1 import config_pb2
from skiff_client.api import ApiClient
from skiff_common import errors
from skiff_common.bootstrap import clusterinfo, token
from skiff_common.pki import ca_cert_hash

from ..clientconfig import ClientConfig


async def create_token(
    client: ApiClient, ttl: dt.timedelta | None = token.DEFAULT_TTL, *, description: str = ""
) -> token.BootstrapToken:
    made = token.generate(ttl, description=description)
    await client.create(made.to_secret())
    return made


async def list_tokens(client: ApiClient) -> list[token.BootstrapToken]:
    secrets = (await client.list(config_pb2.Secret, token.NAMESPACE)).items
    out = []
    for secret in secrets:
        if secret.type == token.SECRET_TYPE:
            try:
                out.append(token.from_secret(secret))
            except token.TokenError:
                continue
    return sorted(out, key=lambda t: t.id)


async def delete_token(client: ApiClient, value: str) -> str:
    """Delete by id or by whole token; returns the id. NotFound names the token."""
    token_id = value.split(".", 1)[0]
    if not token.TOKEN_RE.match(f"{token_id}.{'0' * 16}"):
        raise errors.BadRequest(f"token id {token_id!r} is not valid: it must match [a-z0-9]{{6}}")
    try:
        await client.delete(config_pb2.Secret, token.NAME_PREFIX + token_id, token.NAMESPACE)
    except errors.NotFound:
        raise errors.NotFound(f'bootstrap token "{token_id}" not found') from None
    return token_id


async def publish_cluster_info(client: ApiClient, server: str, ca_pem: bytes, grpc_server: str = "") -> None:
    """Create or correct kube-public/cluster-info (the bootstrap signer keeps its signatures)."""
    content = clusterinfo.kubeconfig(clusterinfo.ClusterInfo(server=server, ca_pem=ca_pem, grpc_server=grpc_server))
    try:
        current = await client.get(config_pb2.ConfigMap, clusterinfo.NAME, clusterinfo.NAMESPACE)
    except errors.NotFound:
        cm = config_pb2.ConfigMap(data={clusterinfo.KUBECONFIG_KEY: content})
        cm.metadata.name, cm.metadata.namespace = clusterinfo.NAME, clusterinfo.NAMESPACE
        await client.create(cm)
        return
    if current.data.get(clusterinfo.KUBECONFIG_KEY) != content:
        current.data[clusterinfo.KUBECONFIG_KEY] = content  # the old signatures no longer verify: re-signed
        await client.update(current)


async def publish_cluster_info_at(admin: ClientConfig, server: str, ca_pem: bytes, grpc_server: str = "") -> None:
    client = ApiClient.connect(admin.server, tls=admin.tls)
    try:
        await publish_cluster_info(client, server, ca_pem, grpc_server)
    finally:
        await client.close()


def join_command(address: str, tok: token.BootstrapToken, ca_pem: bytes) -> str:
    return f"skiff join {address} --token {tok.value} --discovery-token-ca-cert-hash {ca_cert_hash(ca_pem)}"
