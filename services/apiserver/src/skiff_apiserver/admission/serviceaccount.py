"""ServiceAccount admission, as Kubernetes' plugin of that name: every pod runs as a ServiceAccount and,
unless it opts out, finds that account's credentials in its filesystem.

On pod create (mirror pods are left alone: a kubelet cannot mint tokens for a static pod):

* no ``spec.serviceAccountName`` -> ``default``;
* the ServiceAccount must exist, else Forbidden ("error looking up service account"). The `default`
  one is made by the serviceaccount controller a moment after its namespace, so it is looked up a few
  times before giving up, as Kubernetes does;
* unless ``automountServiceAccountToken: false`` on the pod or, when the pod does not say, on the
  ServiceAccount, a projected volume ``kube-api-access-<5 random chars>`` is added::

      serviceAccountToken  expirationSeconds 3607, path token  (the kubelet requests and refreshes it)
      configMap            kube-root-ca.crt, ca.crt -> ca.crt  (the root CA publisher keeps it)
      downwardAPI          metadata.namespace -> namespace
      defaultMode 0644

  and mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container and init
  container that does not already mount something there. A pod that already carries such a volume
  (one whose name starts with kube-api-access-, mounted there) is not given a second one.

3607 s rather than 3600: Kubernetes uses the odd value to tell admission-made tokens apart (the
apiserver may extend them); the kubelet refreshes them long before either limit.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from google.protobuf.message import Message
from skiff.api.core.v1 import container_pb2, references_pb2, volume_pb2
from skiff_common import errors

from skiff_apiserver.admission.noderestriction import MIRROR
from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.objects import random_suffix
from skiff_apiserver.registry.strategy import Strategy
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import EtcdClient
from skiff_apiserver.storage.watch_cache import WatchCache

DEFAULT_SA = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_SECONDS = 3607
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DEFAULT_MODE = 0o644
DEFAULT_SA_ATTEMPTS = 10  # the default ServiceAccount may be a moment behind its namespace


def should_automount(sa: Any, pod: Any) -> bool:
    if pod.spec.HasField("automount_service_account_token"):
        return bool(pod.spec.automount_service_account_token)
    if sa.HasField("automount_service_account_token"):
        return bool(sa.automount_service_account_token)
    return True


def api_access_volume(name: str) -> volume_pb2.Volume:
    """The kube-api-access-* projected volume Kubernetes adds (token, ca.crt, namespace)."""
    vol = volume_pb2.Volume(name=name)
    proj = vol.projected
    proj.default_mode = DEFAULT_MODE
    proj.sources.add().service_account_token.CopyFrom(
        volume_pb2.ServiceAccountTokenProjection(expiration_seconds=TOKEN_SECONDS, path="token")
    )
    ca = volume_pb2.KeyToPath(key="ca.crt", path="ca.crt")
    proj.sources.add().config_map.CopyFrom(volume_pb2.ConfigMapProjection(name=ROOT_CA_CONFIGMAP, items=[ca]))
    namespace = references_pb2.ObjectFieldSelector(api_version="v1", field_path="metadata.namespace")
    ns_file = volume_pb2.DownwardAPIVolumeFile(path="namespace", field_ref=namespace)
    proj.sources.add().downward_api.CopyFrom(volume_pb2.DownwardAPIProjection(items=[ns_file]))
    return vol


def mount_token(pod: Any) -> None:
    """Add the volume (unless one is there) and its mount to every container lacking one (in place)."""
    spec = pod.spec
    containers = [*spec.init_containers, *spec.containers]
    existing = {m.name for c in containers for m in c.volume_mounts if m.mount_path == MOUNT_PATH}
    name = next((v.name for v in spec.volumes if v.name in existing and v.name.startswith(VOLUME_PREFIX)), "")
    if not name:
        taken = {v.name for v in spec.volumes}
        name = VOLUME_PREFIX + random_suffix()
        while name in taken:
            name = VOLUME_PREFIX + random_suffix()
        spec.volumes.append(api_access_volume(name))
    for c in containers:
        if not any(m.mount_path == MOUNT_PATH for m in c.volume_mounts):
            c.volume_mounts.append(container_pb2.VolumeMount(name=name, mount_path=MOUNT_PATH, read_only=True))


class ServiceAccountAdmission:
    def __init__(self, client: EtcdClient, prefix: str, caches: dict[str, WatchCache]) -> None:
        self.client = client
        self.prefix = prefix
        self.caches = caches
        self.info = kinds.lookup_resource("serviceaccounts")

    async def _get(self, namespace: str, name: str) -> Any:
        key = codec.object_key(self.prefix, self.info, namespace, name)
        cache = self.caches.get(self.info.resource)
        found: Any = cache.get(key) if cache else None
        attempts = DEFAULT_SA_ATTEMPTS if name == DEFAULT_SA else 1
        for attempt in range(attempts):
            if found is not None:
                break
            if attempt:
                await asyncio.sleep(0.1 + random.random() / 10)
            kv, _ = await self.client.get(key)
            if kv is not None:
                found = codec.decode(self.info, kv.value, kv.mod_revision)
        return found

    async def admit_create(self, info: KindInfo, obj: Message, strategy: Strategy) -> None:
        if info.kind != "Pod":
            return
        pod: Any = obj
        if MIRROR in pod.metadata.annotations:
            return
        spec = pod.spec
        spec.service_account_name = spec.service_account_name or DEFAULT_SA
        ns = pod.metadata.namespace
        sa = await self._get(ns, spec.service_account_name)
        if sa is None:
            raise errors.Forbidden(
                f'pods "{pod.metadata.name or pod.metadata.generate_name}" is forbidden: error looking up service '
                f'account {ns}/{spec.service_account_name}: serviceaccount "{spec.service_account_name}" not found'
            )
        if should_automount(sa, pod):
            mount_token(pod)

    def admit_update(self, info: KindInfo, new: Message, old: Message) -> None:
        """The ServiceAccount and volumes of a pod are fixed at creation."""

    def admit_delete(self, info: KindInfo, obj: Message) -> None:
        return None
