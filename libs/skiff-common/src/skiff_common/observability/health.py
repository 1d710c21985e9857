"""/healthz, /livez and /readyz with named checks, as Kubernetes components serve them.

Every component registers its checks here (`checks.add("leader", fn)`) and serves them on the same
port as /metrics, as kube-scheduler and kube-controller-manager do, so one probe configuration fits
all. The answer is Kubernetes': `ok`, or with `?verbose` one line per check (`[+]informers-synced ok`)
and a summary; a failing check makes it 500 with `[-]<name> failed: reason withheld`; each check is
also served alone at `/<endpoint>/<name>`, and `?exclude=<name>` leaves one out.

Liveness checks answer "is the process working at all" (restart it if not); readiness checks add
"should it get traffic or act" (caches synced, leader elected). /readyz runs both, /livez only the
liveness ones, /healthz (deprecated in Kubernetes, still probed) runs both.

Checks are plain callables returning True when healthy; they run on the HTTP thread, so they must only
read state the component keeps up to date (a flag, a timestamp), never block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

ENDPOINTS = ("healthz", "livez", "readyz")
Check = Callable[[], bool]


@dataclass(frozen=True)
class _Registered:
    check: Check
    readiness_only: bool


class HealthChecks:
    """The process's named checks (one default instance, `checks`, like prometheus_client's REGISTRY)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checks: dict[str, _Registered] = {"ping": _Registered(lambda: True, False)}

    def add(self, name: str, check: Check, *, readiness_only: bool = False) -> None:
        """Register (or replace) a check; `readiness_only` keeps it out of /livez."""
        with self._lock:
            self._checks[name] = _Registered(check, readiness_only)

    def remove(self, name: str) -> None:
        with self._lock:
            self._checks.pop(name, None)

    def for_endpoint(self, endpoint: str) -> dict[str, Check]:
        with self._lock:
            items = list(self._checks.items())
        return {n: r.check for n, r in items if endpoint != "livez" or not r.readiness_only}

    def run(self, endpoint: str, only: str = "", exclude: Iterable[str] = ()) -> dict[str, bool] | None:
        """Each selected check's result; None when `only` names no check of this endpoint."""
        selected = self.for_endpoint(endpoint)
        if only:
            if only not in selected:
                return None
            selected = {only: selected[only]}
        skip = set(exclude)
        return {name: _safe(check) for name, check in selected.items() if name not in skip}


def _safe(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:  # a check that raises is a failing check, never a 500 page with a traceback
        return False


def render(endpoint: str, results: Mapping[str, bool], *, verbose: bool) -> tuple[int, str]:
    """(HTTP status, body) in Kubernetes' words for the results of one health endpoint."""
    healthy = all(results.values())
    if not verbose and healthy:
        return 200, "ok"
    lines = [f"[+]{n} ok" if ok else f"[-]{n} failed: reason withheld" for n, ok in results.items()]
    lines.append(f"{endpoint} check {'passed' if healthy else 'failed'}")
    return (200 if healthy else 500), "\n".join(lines) + "\n"


def answer(path: str, query: Mapping[str, list[str]], registry: HealthChecks) -> tuple[int, str] | None:
    """The response for a health path (`/readyz`, `/livez/leader`), or None if `path` is not one."""
    endpoint, _, only = path.strip("/").partition("/")
    if endpoint not in ENDPOINTS or "/" in only:
        return None
    results = registry.run(endpoint, only, query.get("exclude", []))
    if results is None:
        return None
    return render(endpoint, results, verbose="verbose" in query)


checks = HealthChecks()

__all__ = ["ENDPOINTS", "HealthChecks", "answer", "checks", "render"]
