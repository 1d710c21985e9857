"""The RBAC authorizer: Roles, ClusterRoles and their bindings read from the apiserver's own watch caches.

Kubernetes' RBAC authorizer reads the same objects from informers; here the watch caches are those
informers (each is fed by one etcd watch and is never behind a write the apiserver acknowledged by more
than the watch's latency). Evaluating a request must not walk every binding -- a cluster with thousands
of them would pay for each one on every call -- so an index is built from the caches: subject (a user, a
group, a ServiceAccount's user name) -> the rule sets bound to it, each with the namespace it applies in
("" for cluster-wide) and a description for reasons. The index is rebuilt when any of the four caches
has moved (their revisions are compared on each call, four integers), so a write to RBAC objects takes
effect as soon as the cache has seen it, and requests in between pay nothing.

A ClusterRole with an aggregationRule holds the rules of every ClusterRole its selectors match, as the
clusterrole-aggregation controller of kube-controller-manager writes them; the index computes the union
itself, so aggregation takes effect without a round trip through a controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.authorizer import NO_OPINION, Answer, Decision
from skiff_apiserver.auth.rbac.rules import Compiled, Rule, compile_rules
from skiff_apiserver.auth.user import SERVICEACCOUNT_PREFIX, UserInfo
from skiff_apiserver.machinery import labels
from skiff_apiserver.storage.watch_cache import WatchCache

RESOURCES = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


@dataclass(frozen=True)
class Grant:
    namespace: str  # "" = every namespace (a ClusterRoleBinding)
    rules: tuple[Rule, ...]
    binding: Any  # the RoleBinding or ClusterRoleBinding

    @property
    def source(self) -> str:
        """'ClusterRoleBinding "x" of ClusterRole "y"' (made only when a reason is asked for)."""
        b, ref = self.binding, self.binding.role_ref
        if not self.namespace:
            return f'ClusterRoleBinding "{b.metadata.name}" of ClusterRole "{ref.name}"'
        return f'RoleBinding "{b.metadata.name}/{self.namespace}" of {ref.kind} "{ref.name}"'


def subject_keys(subject: Any, binding_namespace: str) -> str | None:
    """The index key of a binding's subject: "u:<user>" or "g:<group>"; a ServiceAccount is its user."""
    if subject.kind == "User":
        return "u:" + str(subject.name)
    if subject.kind == "Group":
        return "g:" + str(subject.name)
    if subject.kind == "ServiceAccount":
        ns = subject.namespace or binding_namespace
        return f"u:{SERVICEACCOUNT_PREFIX}{ns}:{subject.name}"
    return None


def _describe_subject(subject: Any) -> str:
    if subject.kind == "ServiceAccount":
        return f'ServiceAccount "{subject.name}/{subject.namespace}"'
    return f'{subject.kind} "{subject.name}"'


def aggregate(cluster_roles: Mapping[str, Any]) -> dict[str, tuple[Rule, ...]]:
    """Effective rules of every ClusterRole: its own, plus with an aggregationRule the effective rules of
    every ClusterRole its selectors match. Kubernetes' aggregation controller writes those into the role,
    so `admin` (aggregating `edit`, which aggregates `view`) ends up with all three: the same fixed
    point, computed here. A cycle contributes what was resolved before it closed."""
    selectors: dict[str, list[labels.Selector]] = {}
    for name, role in cluster_roles.items():
        parsed = []
        if role.HasField("aggregation_rule"):
            for s in role.aggregation_rule.cluster_role_selectors:
                try:
                    parsed.append(labels.selector_from_proto(s))
                except ValueError:
                    continue
        selectors[name] = parsed
    out: dict[str, tuple[Rule, ...]] = {}
    visiting: set[str] = set()

    def resolve(name: str) -> tuple[Rule, ...]:
        if name in out:
            return out[name]
        role = cluster_roles[name]
        if name in visiting:
            return tuple(role.rules)
        if not selectors[name]:
            out[name] = tuple(role.rules)
            return out[name]
        visiting.add(name)
        rules: list[Rule] = list(role.rules)
        for other in sorted(cluster_roles):
            if other != name and any(sel.matches(cluster_roles[other].metadata.labels) for sel in selectors[name]):
                for r in resolve(other):
                    if r not in rules:
                        rules.append(r)
        visiting.discard(name)
        out[name] = tuple(rules)
        return out[name]

    for name in cluster_roles:
        resolve(name)
    return out


class RBACIndex:
    def __init__(
        self,
        roles: Iterable[Any],
        cluster_roles: Iterable[Any],
        bindings: Iterable[Any],
        cluster_bindings: Iterable[Any],
    ) -> None:
        role_rules = {(r.metadata.namespace, r.metadata.name): tuple(r.rules) for r in roles}
        self.cluster_rules = aggregate({r.metadata.name: r for r in cluster_roles})
        self.by_subject: dict[str, list[tuple[Grant, Any]]] = {}
        # Each role's rules compiled once (by the identity of its rules tuple), and (subject key,
        # namespace or "") -> the compiled roles bound there with the reason each gives; a role bound
        # many times to one subject in one namespace is listed once.
        self._compiled_roles: dict[int, Compiled] = {}
        self.compiled: dict[tuple[str, str], list[tuple[Compiled, Grant, Any]]] = {}
        self._seen_roles: set[tuple[str, str, int]] = set()
        for b in cluster_bindings:
            if b.role_ref.kind != "ClusterRole":
                continue
            rules = self.cluster_rules.get(b.role_ref.name)
            if rules is None:
                continue
            self._add(b, "", Grant("", rules, b))
        for b in bindings:
            ns = b.metadata.namespace
            if b.role_ref.kind == "ClusterRole":
                rules = self.cluster_rules.get(b.role_ref.name)
            elif b.role_ref.kind == "Role":
                rules = role_rules.get((ns, b.role_ref.name))
            else:
                rules = None
            if rules is None:
                continue
            self._add(b, ns, Grant(ns, rules, b))

    def _add(self, binding: Any, namespace: str, grant: Grant) -> None:
        binding_namespace = binding.metadata.namespace
        for s in binding.subjects:
            key = subject_keys(s, binding_namespace)
            if key is None:
                continue
            self.by_subject.setdefault(key, []).append((grant, s))
            seen = (key, namespace, id(grant.rules))
            if seen in self._seen_roles:
                continue
            self._seen_roles.add(seen)
            compiled = self._compiled_roles.get(id(grant.rules))
            if compiled is None:
                compiled = self._compiled_roles[id(grant.rules)] = compile_rules(grant.rules)
            self.compiled.setdefault((key, namespace), []).append((compiled, grant, s))

    def allowed_by(self, user: UserInfo, namespace: str, attrs: Attributes) -> str | None:
        """The reason a rule bound to `user` allows `attrs` (cluster-wide or in `namespace`), else None."""
        scopes = (namespace, "") if namespace else ("",)
        for key in ("u:" + user.name, *("g:" + g for g in user.groups)):
            for scope in scopes:
                for compiled, grant, subject in self.compiled.get((key, scope), ()):
                    if compiled.match(attrs) is not None:
                        return f"RBAC: allowed by {grant.source} to {_describe_subject(subject)}"
        return None

    def grants(self, user: UserInfo, namespace: str) -> Iterable[tuple[Grant, Any]]:
        """Every grant that applies to `user` in `namespace` ("" = cluster-scoped requests only)."""
        keys = ["u:" + user.name, *("g:" + g for g in user.groups)]
        for key in keys:
            for grant, subject in self.by_subject.get(key, ()):
                if not grant.namespace or grant.namespace == namespace:
                    yield grant, subject

    def rules_for(self, user: UserInfo, namespace: str) -> list[Rule]:
        return [r for grant, _ in self.grants(user, namespace) for r in grant.rules]


class RBACAuthorizer:
    def __init__(self, caches: Mapping[str, WatchCache]) -> None:
        self.caches = [caches[r] for r in RESOURCES]
        self._seen: tuple[int, ...] = ()
        self._index = RBACIndex((), (), (), ())

    def index(self) -> RBACIndex:
        seen = tuple(c.revision for c in self.caches)
        if seen != self._seen:
            roles, cluster_roles, bindings, cluster_bindings = (list(c.objects.values()) for c in self.caches)
            self._index = RBACIndex(roles, cluster_roles, bindings, cluster_bindings)
            self._seen = seen
        return self._index

    def authorize(self, attrs: Attributes) -> Answer:
        source = self.index().allowed_by(attrs.user, attrs.namespace, attrs)
        return Answer(Decision.ALLOW, source) if source is not None else NO_OPINION

    def rules_for(self, user: UserInfo, namespace: str) -> list[Rule]:
        return self.index().rules_for(user, namespace)
