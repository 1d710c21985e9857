"""Access reviews (authorization.k8s.io/v1), answered by the same authorizer chain requests go through.

* SubjectAccessReview: may user U (groups G) do X? Needs `create subjectaccessreviews` (cluster).
* LocalSubjectAccessReview: the same within one namespace (metadata.namespace must equal the
  attributes' namespace); needs `create localsubjectaccessreviews` there.
* SelfSubjectAccessReview: may I do X? (`kubectl auth can-i`); every authenticated user may ask
  (system:basic-user).
* SelfSubjectRulesReview: what may I do in namespace N? The RBAC rules that apply, plus everything for
  system:masters; `incomplete` when another authorizer (the Node authorizer) decides some requests by
  more than rules.

Both ports call `answer`; nothing is stored.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff.api.authorization.v1 import authorization_pb2 as az
from skiff_common import errors

from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.authorizer import Decision
from skiff_apiserver.auth.gate import Gate
from skiff_apiserver.auth.node import node_name
from skiff_apiserver.auth.rbac.policy import NODE_RULES
from skiff_apiserver.machinery import kinds

GROUP = "authorization.k8s.io"
_TYPES = (az.SubjectAccessReview, az.LocalSubjectAccessReview, az.SelfSubjectAccessReview, az.SelfSubjectRulesReview)
_RESOURCE = {
    "SubjectAccessReview": "subjectaccessreviews",
    "LocalSubjectAccessReview": "localsubjectaccessreviews",
    "SelfSubjectAccessReview": "selfsubjectaccessreviews",
    "SelfSubjectRulesReview": "selfsubjectrulesreviews",
}


def is_review(obj: Message) -> bool:
    return isinstance(obj, _TYPES)


def _invalid(kind: str, path: str, detail: str) -> errors.Invalid:
    return errors.Invalid(f"{kind}.authorization.k8s.io is invalid", [errors.FieldError(path, "Invalid value", detail)])


def _attributes(kind: str, spec: Any, user: users.UserInfo) -> Attributes:
    has_res = spec.HasField("resource_attributes")
    has_non = spec.HasField("non_resource_attributes")
    if has_res == has_non:
        raise _invalid(
            kind,
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
    if has_non:
        n = spec.non_resource_attributes
        return Attributes(user, n.verb, resource_request=False, path=n.path)
    r = spec.resource_attributes
    return Attributes(user, r.verb, r.resource, r.subresource, r.namespace, r.name, r.group, r.version or "v1")


def _decide(gate: Gate, attrs: Attributes, status: Any) -> None:
    answer = gate.chain.authorize(attrs)
    status.allowed = answer.allowed
    status.denied = answer.decision is Decision.DENY
    status.reason = answer.reason


def _requester() -> users.UserInfo:
    return users.current() or users.UNSECURED


def answer(gate: Gate, obj: Message) -> Message:
    """The review with its status filled in; Forbidden when the requester may not ask."""
    kind = type(obj).DESCRIPTOR.name
    review: Any = obj
    namespace = review.metadata.namespace if kind == "LocalSubjectAccessReview" else ""
    gate.check(Attributes(_requester(), "create", _RESOURCE[kind], namespace=namespace, api_group=GROUP))
    kinds.set_type_meta(review)
    review.ClearField("status")
    if kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
        spec = review.spec
        if not spec.user and not spec.groups:
            raise _invalid(kind, "spec.user,spec.groups", "at least one of user or group must be specified")
        extra = {k: tuple(v.items) for k, v in spec.extra.items()}
        subject = users.UserInfo(spec.user, tuple(spec.groups), spec.uid, extra)
        attrs = _attributes(kind, spec, subject)
        if kind == "LocalSubjectAccessReview" and attrs.namespace != namespace:
            raise _invalid(kind, "spec.resourceAttributes.namespace", "must match metadata.namespace")
        _decide(gate, attrs, review.status)
    elif kind == "SelfSubjectAccessReview":
        _decide(gate, _attributes(kind, review.spec, _requester()), review.status)
    else:
        _rules_review(gate, review, _requester())
    out: Message = review
    return out


def _rules_review(gate: Gate, review: Any, user: users.UserInfo) -> None:
    ns = review.spec.namespace
    if not ns:
        raise errors.BadRequest("no namespace on request")
    status = review.status
    rules = list(gate.rbac.rules_for(user, ns)) if gate.rbac is not None else []
    if users.MASTERS in user.groups or not gate.enforcing:
        from skiff_apiserver.auth.rbac.policy import rule

        rules = [rule("*", "*", "*"), rule("*", urls=("*",)), *rules]
    if node_name(user) is not None:
        rules += NODE_RULES
        status.incomplete = True
    for r in rules:
        if r.non_resource_urls:
            status.non_resource_rules.add(verbs=r.verbs, non_resource_urls=r.non_resource_urls)
        else:
            status.resource_rules.add(
                verbs=r.verbs, api_groups=r.api_groups, resources=r.resources, resource_names=r.resource_names
            )
