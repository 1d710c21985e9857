"""The authorizer chain both ports use.

An authorizer answers ALLOW, DENY or NO_OPINION with a reason; the chain asks each in turn and the first
ALLOW or DENY decides, as kube-apiserver's union authorizer. The chain `--authorization-mode` builds is
Kubernetes' kubeadm default: members of `system:masters` are always allowed (kube-apiserver's privileged
group authorizer, which no RBAC object can take away), then the Node authorizer, then RBAC. `AlwaysAllow`
keeps the old behaviour (every authenticated caller may do everything).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from skiff_common import errors

from skiff_apiserver.auth.attributes import Attributes, forbidden_message
from skiff_apiserver.auth.user import MASTERS
from skiff_apiserver.logs import log


class Decision(enum.Enum):
    DENY = 0
    ALLOW = 1
    NO_OPINION = 2


@dataclass(frozen=True)
class Answer:
    decision: Decision
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


NO_OPINION = Answer(Decision.NO_OPINION)


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> Answer: ...


class AlwaysAllow:
    def authorize(self, attrs: Attributes) -> Answer:
        return Answer(Decision.ALLOW, "AlwaysAllow")


class PrivilegedGroups:
    """Members of these groups may do everything (kube-apiserver: `system:masters`)."""

    def __init__(self, groups: Sequence[str] = (MASTERS,)) -> None:
        self.groups = frozenset(groups)

    def authorize(self, attrs: Attributes) -> Answer:
        if self.groups.intersection(attrs.user.groups):
            return Answer(Decision.ALLOW, "")
        return NO_OPINION


class Chain:
    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = tuple(authorizers)

    def authorize(self, attrs: Attributes) -> Answer:
        reasons = []
        for a in self.authorizers:
            answer = a.authorize(attrs)
            if answer.decision is not Decision.NO_OPINION:
                return answer
            if answer.reason:
                reasons.append(answer.reason)
        return Answer(Decision.NO_OPINION, ", ".join(reasons))

    def check(self, attrs: Attributes) -> None:
        """Raise Forbidden unless allowed, with Kubernetes' message."""
        answer = self.authorize(attrs)
        if not answer.allowed:
            message = forbidden_message(attrs, answer.reason)
            log.info("authorization_denied", user=attrs.user.name, groups=list(attrs.user.groups), message=message)
            raise errors.Forbidden(message)


MODES = ("AlwaysAllow", "Node", "RBAC")
