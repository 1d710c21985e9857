"""Strategies by kind; kinds without one get the base Strategy (metadata rules only)."""

from __future__ import annotations

from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.registry.strategies.config import ConfigMapStrategy, SecretStrategy
from skiff_apiserver.registry.strategies.controllerrevision import ControllerRevisionStrategy
from skiff_apiserver.registry.strategies.cronjob import CronJobStrategy
from skiff_apiserver.registry.strategies.csr import CertificateSigningRequestStrategy
from skiff_apiserver.registry.strategies.daemonset import DaemonSetStrategy
from skiff_apiserver.registry.strategies.deployment import DeploymentStrategy
from skiff_apiserver.registry.strategies.endpointslice import EndpointSliceStrategy
from skiff_apiserver.registry.strategies.event import EventStrategy
from skiff_apiserver.registry.strategies.job import JobStrategy
from skiff_apiserver.registry.strategies.limitrange import LimitRangeStrategy
from skiff_apiserver.registry.strategies.namespace import NamespaceStrategy
from skiff_apiserver.registry.strategies.node import NodeStrategy
from skiff_apiserver.registry.strategies.pod import PodStrategy
from skiff_apiserver.registry.strategies.priorityclass import PriorityClassStrategy
from skiff_apiserver.registry.strategies.rbac import BindingStrategy, RoleStrategy
from skiff_apiserver.registry.strategies.replicaset import ReplicaSetStrategy
from skiff_apiserver.registry.strategies.resourcequota import ResourceQuotaStrategy
from skiff_apiserver.registry.strategies.service import ServiceStrategy
from skiff_apiserver.registry.strategy import StorageEnv, Strategy

_BY_KIND: dict[str, type[Strategy]] = {
    "Pod": PodStrategy,
    "Namespace": NamespaceStrategy,
    "Node": NodeStrategy,
    "Service": ServiceStrategy,
    "Event": EventStrategy,
    "Deployment": DeploymentStrategy,
    "ReplicaSet": ReplicaSetStrategy,
    "DaemonSet": DaemonSetStrategy,
    "Job": JobStrategy,
    "CronJob": CronJobStrategy,
    "EndpointSlice": EndpointSliceStrategy,
    "CertificateSigningRequest": CertificateSigningRequestStrategy,
    "PriorityClass": PriorityClassStrategy,
    "Role": RoleStrategy,
    "ClusterRole": RoleStrategy,
    "RoleBinding": BindingStrategy,
    "ClusterRoleBinding": BindingStrategy,
    "ControllerRevision": ControllerRevisionStrategy,
    "LimitRange": LimitRangeStrategy,
    "ResourceQuota": ResourceQuotaStrategy,
    "Secret": SecretStrategy,
    "ConfigMap": ConfigMapStrategy,
}


def strategy_for(info: KindInfo, env: StorageEnv | None = None) -> Strategy:
    """The kind's strategy; `env` gives it etcd for what it keeps beside its objects (None: validation only)."""
    return _BY_KIND.get(info.kind, Strategy)(info, env)
