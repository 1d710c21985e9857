"""PolicyRule matching and covering, pure functions with Kubernetes' semantics (rbac/v1 helpers and
the validation package's Covers).

Matching a request: verbs, API groups, resources and resource names each match exactly or by `*`; a
request for a subresource (`pods/log`) is matched by `pods/log`, `*/log` or `*`, never by `pods`; an empty
resourceNames list matches every name. A non-resource URL matches exactly, by `*`, or by a rule ending in
`*` that is its prefix.

Covering (escalation prevention): the rules someone holds cover a rule they want to grant when every
combination the rule names (each verb x group x resource x name, or verb x URL) is allowed by one held
rule; a `*` in the wanted rule is covered only by a `*`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from skiff_apiserver.auth.attributes import Attributes

Rule = Any  # rbac_pb2.PolicyRule (or anything with its five lists)


def _has(values: Sequence[str], want: str) -> bool:
    return want in values or "*" in values


def resource_matches(rule_resources: Sequence[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in rule_resources:
        if r == "*" or r == combined:
            return True
        if subresource and r == "*/" + subresource:
            return True
    return False


def url_matches(rule_urls: Sequence[str], path: str) -> bool:
    for u in rule_urls:
        if u == "*" or u == path:
            return True
        if u.endswith("*") and path.startswith(u[:-1]):
            return True
    return False


def allows(rule: Rule, attrs: Attributes) -> bool:
    if not _has(rule.verbs, attrs.verb):
        return False
    if not attrs.resource_request:
        return url_matches(rule.non_resource_urls, attrs.path)
    return (
        _has(rule.api_groups, attrs.api_group)
        and resource_matches(rule.resources, attrs.resource, attrs.subresource)
        and (not rule.resource_names or attrs.name in rule.resource_names)
    )


def any_allows(rules: Iterable[Rule], attrs: Attributes) -> bool:
    return any(allows(r, attrs) for r in rules)


# -- covering -------------------------------------------------------------------------------------------
def _covers_one(
    owner: Rule, verb: str, group: str | None, resource: str | None, name: str | None, url: str | None
) -> bool:
    if not _has(owner.verbs, verb):
        return False
    if url is not None:
        return url_matches(owner.non_resource_urls, url)
    assert group is not None and resource is not None
    if not _has(owner.api_groups, group):
        return False
    if resource not in owner.resources and "*" not in owner.resources:
        sub = resource.partition("/")[2]
        if not (sub and "*/" + sub in owner.resources):
            return False
    if owner.resource_names:
        return name is not None and name in owner.resource_names
    return True


def breakdown(rule: Rule) -> list[tuple[str, str | None, str | None, str | None, str | None]]:
    """A rule as its atoms: (verb, group, resource, name, url); name None = every name."""
    out: list[tuple[str, str | None, str | None, str | None, str | None]] = []
    for verb in rule.verbs:
        for group in rule.api_groups:
            for resource in rule.resources:
                for name in list(rule.resource_names) or [None]:
                    out.append((verb, group, resource, name, None))
        for url in rule.non_resource_urls:
            out.append((verb, None, None, None, url))
    return out


def uncovered(owner: Sequence[Rule], wanted: Iterable[Rule]) -> list[Rule]:
    """The wanted rules not wholly covered by the owner's rules (empty: no escalation)."""
    missing = []
    for rule in wanted:
        if not all(any(_covers_one(o, *atom) for o in owner) for atom in breakdown(rule)):
            missing.append(rule)
    return missing


def describe(rule: Rule) -> str:
    """A rule as Kubernetes prints it in an escalation error: {APIGroups:["apps"], Resources:["pods"], ...}."""

    def q(values: Sequence[str]) -> str:
        return "[" + " ".join(f'"{v}"' for v in values) + "]"

    parts = []
    if rule.api_groups:
        parts.append(f"APIGroups:{q(rule.api_groups)}")
    if rule.resources:
        parts.append(f"Resources:{q(rule.resources)}")
    if rule.resource_names:
        parts.append(f"ResourceNames:{q(rule.resource_names)}")
    if rule.non_resource_urls:
        parts.append(f"NonResourceURLs:{q(rule.non_resource_urls)}")
    parts.append(f"Verbs:{q(rule.verbs)}")
    return "{" + ", ".join(parts) + "}"


class Compiled:
    """Rules compiled for matching in a few dictionary lookups instead of a walk over every rule: each
    (verb, group, resource[/subresource]) a rule names exactly maps to the names it allows (None: all)
    and the rule's source; rules with a `*` or `*/sub` stay in a short list matched the ordinary way."""

    __slots__ = ("exact", "urls", "wild")

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str, str], tuple[frozenset[str] | None, str]] = {}
        self.wild: list[tuple[Rule, str]] = []
        self.urls: list[tuple[Rule, str]] = []

    def add(self, rule: Rule, source: str) -> None:
        if rule.non_resource_urls:
            self.urls.append((rule, source))
            return
        if "*" in rule.verbs or "*" in rule.api_groups or any(r == "*" or r.startswith("*/") for r in rule.resources):
            self.wild.append((rule, source))
            return
        names = frozenset(rule.resource_names) if rule.resource_names else None
        for verb in rule.verbs:
            for group in rule.api_groups:
                for resource in rule.resources:
                    key = (verb, group, resource)
                    have = self.exact.get(key)
                    if have is None:
                        self.exact[key] = (names, source)
                    elif have[0] is not None:  # widen: no names (every name) wins
                        self.exact[key] = (None if names is None else have[0] | names, have[1])

    def match(self, attrs: Attributes) -> str | None:
        """The source of a rule allowing `attrs`, None when none does."""
        if not attrs.resource_request:
            for rule, source in self.urls:
                if _has(rule.verbs, attrs.verb) and url_matches(rule.non_resource_urls, attrs.path):
                    return source
            return None
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        hit = self.exact.get((attrs.verb, attrs.api_group, combined))
        if hit is not None and (hit[0] is None or attrs.name in hit[0]):
            return hit[1]
        for rule, source in self.wild:
            if allows(rule, attrs):
                return source
        return None


def compile_rules(rules: Iterable[Rule], source: str = "") -> Compiled:
    out = Compiled()
    for r in rules:
        out.add(r, source)
    return out
