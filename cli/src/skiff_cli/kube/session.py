"""What every API verb starts from: the kubeconfig's target, a REST client, the resource mapper, and the
namespace to work in -- built from kubectl's global flags, which every subcommand accepts."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from . import config
from .resources import Mapper, Resource, Selection, select
from .rest import Rest


def add_global_flags(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """kubectl's global flags. On subcommands the defaults are suppressed so a flag given before the verb
    (`skiff -n kube-system get pods`) is not overwritten by the subcommand's default."""
    default: Any = None if top else argparse.SUPPRESS
    g = parser.add_argument_group("global flags")
    g.add_argument("--kubeconfig", default=default, help="path to the kubeconfig file to use")
    g.add_argument("--context", default=default, help="the kubeconfig context to use")
    g.add_argument("-s", "--server", default=default, help="the address of the API server")
    g.add_argument("-n", "--namespace", default=default, help="the namespace scope for this request")
    g.add_argument("--request-timeout", default=default, help="seconds to wait for a single request (0: none)")


def add_all_namespaces(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="list the requested objects across all namespaces"
    )


@dataclass
class Session:
    args: argparse.Namespace

    @cached_property
    def kubeconfig(self) -> config.KubeConfig:
        return config.load(getattr(self.args, "kubeconfig", None))

    @cached_property
    def target(self) -> config.Target:
        a = self.args
        return config.target(
            self.kubeconfig,
            context=getattr(a, "context", None),
            namespace=getattr(a, "namespace", None),
            server=getattr(a, "server", None),
        )

    @cached_property
    def rest(self) -> Rest:
        raw = getattr(self.args, "request_timeout", None)
        timeout = _seconds(raw) if raw else None
        return Rest(self.target, timeout=timeout or None)

    @cached_property
    def mapper(self) -> Mapper:
        return Mapper(self.rest)

    @property
    def namespace(self) -> str:
        return self.target.namespace

    @property
    def explicit_namespace(self) -> bool:
        return bool(getattr(self.args, "namespace", None))

    @property
    def all_namespaces(self) -> bool:
        return bool(getattr(self.args, "all_namespaces", False))

    def ns_for(self, resource: Resource) -> str:
        """The namespace of a request for this resource ("" for cluster-scoped or across all)."""
        if not resource.namespaced or self.all_namespaces:
            return ""
        return self.namespace

    def select(self, words: list[str]) -> list[Selection]:
        return select(self.mapper, words)

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        ns = self.namespace if namespace is None else namespace
        return dict(self.rest.get(resource.path(ns if resource.namespaced else "", name)))


def _seconds(raw: str) -> float:
    """`--request-timeout=5`, `5s`, `1m`."""
    text = str(raw).strip()
    scale = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in scale:
        return float(text[:-1]) * scale[text[-1]]
    return float(text)
