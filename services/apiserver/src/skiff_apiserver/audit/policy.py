"""Kubernetes' audit Policy: the first rule matching a request gives its level.

    apiVersion: audit.k8s.io/v1
    kind: Policy
    omitStages: [RequestReceived]
    rules:
      - level: None
        users: ["system:kube-proxy"]
        verbs: ["watch"]
      - level: RequestResponse
        resources: [{group: "", resources: ["secrets"]}]
        namespaces: ["prod"]
      - level: Metadata

A rule matches when every field it sets matches (users, userGroups, verbs, resources with group,
resources -- `pods/log` or `*/status` forms included -- and resourceNames, namespaces, nonResourceURLs
with a trailing `*`). No matching rule: level None. Levels: None < Metadata < Request < RequestResponse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from skiff_common import errors

from skiff_apiserver.auth.attributes import Attributes

LEVELS = ("None", "Metadata", "Request", "RequestResponse")


def _url(rule: str, path: str) -> bool:
    return rule == path or (rule.endswith("*") and path.startswith(rule[:-1]))


def _resource(rule: str, combined: str, resource: str, subresource: str) -> bool:
    if rule in (combined, "*"):
        return True
    return bool(subresource) and rule in (f"{resource}/*", f"*/{subresource}")


@dataclass(frozen=True)
class Rule:
    level: str
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()  # (group, resources, names)
    namespaces: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def matches(self, a: Attributes) -> bool:
        if self.users and a.user.name not in self.users:
            return False
        if self.groups and not set(self.groups) & set(a.user.groups):
            return False
        if self.verbs and a.verb not in self.verbs:
            return False
        if not a.resource_request:
            if self.resources or self.namespaces:
                return False
            return not self.urls or any(
                u == a.path or (u.endswith("*") and a.path.startswith(u[:-1])) for u in self.urls
            )
        if self.urls:
            return False
        if self.namespaces and a.namespace not in self.namespaces:
            return False
        if self.resources:
            combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
            for group, names, resource_names in self.resources:
                if group != a.api_group and group != "*":
                    continue
                if names and not any(
                    n in (combined, "*")
                    or (n == f"{a.resource}/*" and a.subresource)
                    or (n == f"*/{a.subresource}" and a.subresource)
                    for n in names
                ):
                    continue
                if resource_names and a.name not in resource_names:
                    continue
                return True
            return False
        return True


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]

    def level(self, a: Attributes) -> str:
        for r in self.rules:
            if r.matches(a):
                return r.level
        return "None"


def _invalid(path: str, detail: str) -> errors.Invalid:
    return errors.Invalid("audit Policy is invalid", [errors.FieldError(path, "Invalid value", detail)])


def parse(data: Any) -> Policy:
    if not isinstance(data, dict) or data.get("kind") != "Policy":
        raise _invalid("kind", 'must be "Policy"')
    rules = []
    for i, r in enumerate(data.get("rules") or []):
        if not isinstance(r, dict) or r.get("level") not in LEVELS:
            raise _invalid(f"rules[{i}].level", f"must be one of {', '.join(LEVELS)}")
        resources = tuple(
            (str(g.get("group", "")), tuple(g.get("resources") or ()), tuple(g.get("resourceNames") or ()))
            for g in r.get("resources") or []
        )
        rules.append(
            Rule(
                r["level"], tuple(r.get("users") or ()), tuple(r.get("userGroups") or ()), tuple(r.get("verbs") or ()),
                resources, tuple(r.get("namespaces") or ()), tuple(r.get("nonResourceURLs") or ()),
            )
        )  # fmt: skip
    return Policy(tuple(rules))


def load(path: str) -> Policy:
    try:
        return parse(yaml.safe_load(Path(path).read_text()))
    except OSError as exc:
        raise ValueError(f"--audit-policy-file: cannot read {path}: {exc.strerror}") from None


METADATA_EVERYTHING = Policy((Rule("Metadata"),))
