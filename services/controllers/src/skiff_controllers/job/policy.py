"""Pure rules of the Job controller: podFailurePolicy matching and pod re-creation back-off.

podFailurePolicy (Kubernetes' ``matchPodFailurePolicy``): rules are tried in order; the first that
matches a failed pod decides. ``onExitCodes`` looks at terminated containers (a named one, or any) with a
non-zero exit code -- ``In`` matches when one of them exits with a listed code, ``NotIn`` when one exits
with a code not listed. ``onPodConditions`` matches a pod condition of that type and status.

Back-off (Kubernetes' ``getRemainingTime``): after n consecutive failures since the last success the next
pod waits 10 s * 2^(n-1), capped at 6 min, from the last failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0


@dataclass(frozen=True)
class PolicyMatch:
    action: str  # FailJob, Ignore, Count
    message: str


def _exit_code_match(rule: Any, pod: Any) -> str | None:
    req = rule.on_exit_codes
    values = set(req.values)
    for cs in [*pod.status.container_statuses, *pod.status.init_container_statuses]:
        if req.HasField("container_name") and cs.name != req.container_name:
            continue
        if not cs.state.HasField("terminated"):
            continue
        code = cs.state.terminated.exit_code
        if code == 0:
            continue
        if (req.operator == "In") == (code in values):
            return (
                f"Container {cs.name} for pod {pod.metadata.namespace}/{pod.metadata.name} failed with exit code {code}"
            )
    return None


def _condition_match(rule: Any, pod: Any) -> str | None:
    for pattern in rule.on_pod_conditions:
        for cond in pod.status.conditions:
            if cond.type == pattern.type and cond.status == (pattern.status or "True"):
                return f"Pod {pod.metadata.namespace}/{pod.metadata.name} has condition {cond.type}"
    return None


def match_pod_failure_policy(policy: Any, pod: Any) -> PolicyMatch | None:
    """The action of the first rule that matches a failed pod, or None (then the failure counts)."""
    for i, rule in enumerate(policy.rules):
        if rule.HasField("on_exit_codes"):
            what = _exit_code_match(rule, pod)
        else:
            what = _condition_match(rule, pod)
        if what is not None:
            return PolicyMatch(rule.action, f"{what} matching {rule.action} rule at index {i}")
    return None


def backoff_delay(failures_since_success: int) -> float:
    if failures_since_success <= 0:
        return 0.0
    return float(min(BACKOFF_BASE * 2 ** (failures_since_success - 1), BACKOFF_MAX))


def backoff_remaining(failures_since_success: int, last_failure: float | None, now: float) -> float:
    """Seconds to wait before the next pod may be created (0 when it may be created now)."""
    if last_failure is None:
        return 0.0
    return max(0.0, last_failure + backoff_delay(failures_since_success) - now)
