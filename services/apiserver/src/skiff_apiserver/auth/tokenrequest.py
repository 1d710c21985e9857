"""TokenRequest (serviceaccounts/<name>/token) and TokenReview, answered on both ports, never stored.

TokenRequest issues a token for an existing ServiceAccount: audiences (default: the apiserver's),
expirationSeconds (default 3600, at least 600), and an optional boundObjectRef to a Pod (or Secret) of
the same namespace whose uid, when given, must match; the caller needs `create serviceaccounts/token`
on that ServiceAccount (edit has it; a kubelet has it for the ServiceAccounts its pods run as).
TokenReview says who a token belongs to (`create tokenreviews`: system:auth-delegator);
SelfSubjectReview who the caller is (`kubectl auth whoami`; every authenticated user, system:basic-user).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff_common import errors

from skiff_apiserver.admission.noderestriction import check_token_request
from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.gate import Gate
from skiff_apiserver.auth.tokens import DEFAULT_SECONDS, MAX_SECONDS, MIN_SECONDS
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.api import Registry


def is_token_kind(obj: Message) -> bool:
    return isinstance(obj, (an.TokenRequest, an.TokenReview, an.SelfSubjectReview))


def _invalid(name: str, path: str, detail: str) -> errors.Invalid:
    return errors.Invalid(
        f'TokenRequest.authentication.k8s.io "{name}" is invalid', [errors.FieldError(path, "Invalid value", detail)]
    )


async def answer(gate: Gate, registry: Registry, obj: Message) -> Message:
    if isinstance(obj, an.TokenReview):
        return review(gate, obj)
    if isinstance(obj, an.SelfSubjectReview):
        return whoami(gate)
    tr: Any = obj
    ns, name = tr.metadata.namespace or "default", tr.metadata.name
    gate.check_resource("create", kinds.lookup_resource("serviceaccounts"), ns, name, "token")
    return await request(gate, registry, tr)


async def request(gate: Gate, registry: Registry, tr: Any) -> Message:
    if gate.tokens is None:
        raise errors.Unimplemented("this apiserver issues no service account tokens")
    ns, name = tr.metadata.namespace or "default", tr.metadata.name
    spec = tr.spec
    seconds = spec.expiration_seconds if spec.HasField("expiration_seconds") else DEFAULT_SECONDS
    if seconds < MIN_SECONDS:
        raise _invalid(name, "spec.expirationSeconds", "may not specify a duration less than 10 minutes")
    if seconds > MAX_SECONDS:
        raise _invalid(name, "spec.expirationSeconds", "may not specify a duration larger than 2^32 seconds")
    sa = await registry.get(kinds.lookup_resource("serviceaccounts"), ns, name)
    pod = None
    ref = spec.bound_object_ref
    if ref.kind:
        if ref.kind not in ("Pod", "Secret"):
            raise _invalid(name, "spec.boundObjectRef.kind", f'"{ref.kind}": supported values: "Pod", "Secret"')
        bound: Any = await registry.get(kinds.lookup_resource(ref.kind.lower() + "s"), ns, ref.name)
        if ref.uid and ref.uid != bound.metadata.uid:
            raise errors.Conflict(
                f"the UID in the bound object reference ({ref.uid}) does not match the {ref.kind.lower()} "
                f'("{bound.metadata.uid}")'
            )
        if ref.kind == "Pod":
            pod = bound
    if "Node" in gate.modes:
        check_token_request(ref, pod)  # NodeRestriction: a kubelet only for pods on its node
    token, expiry = gate.tokens.issue(sa, list(spec.audiences), seconds, pod)
    out = an.TokenRequest()
    out.CopyFrom(tr)
    kinds.set_type_meta(out)
    out.metadata.namespace, out.metadata.name = ns, name
    if not out.spec.audiences:
        out.spec.audiences.extend(gate.tokens.audiences)
    out.spec.expiration_seconds = seconds
    out.status.token = token
    out.status.expiration_timestamp.seconds = expiry
    return out


def whoami(gate: Gate) -> Message:
    """SelfSubjectReview (`kubectl auth whoami`): the caller as the apiserver sees it."""
    requester = users.current() or users.UNSECURED
    gate.check(Attributes(requester, "create", "selfsubjectreviews", api_group="authentication.k8s.io"))
    out = an.SelfSubjectReview()
    kinds.set_type_meta(out)
    info = out.status.user_info
    info.username, info.uid = requester.name, requester.uid
    info.groups.extend(requester.groups)
    for k, v in requester.extra.items():
        info.extra[k].items.extend(v)
    return out


def review(gate: Gate, tr: Any) -> Message:
    requester = users.current() or users.UNSECURED
    gate.check(Attributes(requester, "create", "tokenreviews", api_group="authentication.k8s.io"))
    out = an.TokenReview()
    out.CopyFrom(tr)
    kinds.set_type_meta(out)
    out.ClearField("status")
    if gate.tokens is None:
        out.status.error = "this apiserver issues no service account tokens"
        return out
    try:
        who = gate.tokens.authenticate(tr.spec.token, tuple(tr.spec.audiences))
    except errors.Unauthenticated as exc:
        out.status.error = exc.message
        return out
    out.status.authenticated = True
    out.status.user.username, out.status.user.uid = who.name, who.uid
    out.status.user.groups.extend(who.groups)
    for k, v in who.extra.items():
        out.status.user.extra[k].items.extend(v)
    out.status.audiences.extend(tr.spec.audiences or gate.tokens.audiences)
    return out
