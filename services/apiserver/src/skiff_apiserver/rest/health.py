"""/healthz, /livez and /readyz as kube-apiserver serves them: "ok", or with `?verbose` one line per
check (`[+]etcd ok`), and each check alone at /<endpoint>/<check>. A failing check answers 500 with
`[-]<check> failed: reason withheld`, which is what probes and `kubectl get --raw /readyz?verbose` expect.

Checks: ping (the process serves), etcd (a read of the current revision), watch-caches (every resource's
cache is running); /readyz adds shutdown (false once the server is stopping).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from skiff_apiserver.registry.api import Registry
from skiff_common.observability.health import render

Check = Callable[[], Awaitable[bool]]


class Health:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.stopping = False

    async def _ping(self) -> bool:
        return True

    async def _etcd(self) -> bool:
        try:
            await asyncio.wait_for(self.registry.store.client.current_revision(), 2.0)
            return True
        except Exception:
            return False

    async def _caches(self) -> bool:
        tasks = [getattr(c, "_task", None) for c in self.registry.caches.values()]
        return all(t is not None and not t.done() for t in tasks)

    async def _shutdown(self) -> bool:
        return not self.stopping

    def checks(self, endpoint: str) -> dict[str, Check]:
        out: dict[str, Check] = {"ping": self._ping, "etcd": self._etcd, "watch-caches": self._caches}
        if endpoint == "readyz":
            out["shutdown"] = self._shutdown
        return out

    async def handle(self, request: web.Request) -> web.Response:
        endpoint, _, only = request.path.strip("/").partition("/")
        checks = self.checks(endpoint)
        if only:
            if only not in checks:
                raise web.HTTPNotFound()
            checks = {only: checks[only]}
        exclude = set(request.query.getall("exclude", []))
        results = {name: await check() for name, check in checks.items() if name not in exclude}
        status, text = render(endpoint, results, verbose="verbose" in request.query)
        return web.Response(text=text, status=status, content_type="text/plain")
