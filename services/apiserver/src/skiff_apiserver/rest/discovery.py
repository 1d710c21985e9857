"""Discovery as kube-apiserver serves it: /version, /api, /apis, the per-group-version resource lists, and
aggregated discovery (apidiscovery.k8s.io v2, and v2beta1 for kubectl 1.27) in one response, which is
what kubectl >= 1.28 asks for first (falling back to the per-group documents when a server answers with
plain JSON).

Aggregated discovery is chosen by the Accept header; the answer's Content-Type must repeat the
`g=...;v=...;as=APIGroupDiscoveryList` parameters, because that is how client-go tells the two apart.
"""

from __future__ import annotations

import platform
from typing import Any

from aiohttp import web
from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.rest import resources
from skiff_apiserver.rest.status import json_response

_AGGREGATED = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"


def version_info() -> dict[str, str]:
    major, minor = resources.KUBE_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.0-skiff",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-12-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"{platform.system().lower()}/{platform.machine()}",
    }


def _api_resource(info: KindInfo) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    main: dict[str, Any] = {
        "name": info.resource,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(resources.VERBS),
    }
    if info.short_names:
        main["shortNames"] = list(info.short_names)
    cats = resources.categories_of(info)
    if cats:
        main["categories"] = cats
    out.append(main)
    for sub in resources.subresources_of(info):
        entry: dict[str, Any] = {
            "name": f"{info.resource}/{sub.name}",
            "singularName": "",
            "namespaced": info.namespaced,
            "kind": sub.kind,
            "verbs": list(sub.verbs),
        }
        if sub.group != info.group or sub.version != info.version:
            entry["group"], entry["version"] = sub.group, sub.version
        out.append(entry)
    return out


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    infos = resources.kinds_in(group, version)
    if not infos:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [r for info in infos for r in _api_resource(info)],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def _aggregated_resource(info: KindInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": info.resource,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": list(resources.VERBS),
    }
    if info.short_names:
        out["shortNames"] = list(info.short_names)
    cats = resources.categories_of(info)
    if cats:
        out["categories"] = cats
    subs = [
        {
            "subresource": s.name,
            "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
            "verbs": list(s.verbs),
        }
        for s in resources.subresources_of(info)
    ]
    if subs:
        out["subresources"] = subs
    return out


def _aggregated(core: bool, version: str) -> dict[str, Any]:
    items = []
    for group, versions in resources.group_versions().items():
        if (group == "") != core:
            continue
        items.append(
            {
                "metadata": {"name": group} if group else {},
                "versions": [
                    {
                        "version": v,
                        "resources": [_aggregated_resource(i) for i in resources.kinds_in(group, v)],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


def aggregated_version(accept: str) -> str | None:
    """The apidiscovery version the client accepts first (v2 or v2beta1), or None for legacy discovery."""
    for part in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in part.split(";")[1:])}
        if params.get("g") == "apidiscovery.k8s.io" and params.get("v") in ("v2", "v2beta1"):
            return params["v"]
    return None


def _discovery_response(request: web.Request, core: bool, legacy: dict[str, Any]) -> web.Response:
    version = aggregated_version(request.headers.get("Accept", ""))
    if version is None:
        return json_response(legacy)
    return json_response(_aggregated(core, version), content_type=_AGGREGATED.format(v=version))


async def get_version(request: web.Request) -> web.Response:
    return json_response(version_info())


async def get_api(request: web.Request) -> web.Response:
    legacy = {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}],
    }
    return _discovery_response(request, True, legacy)


async def get_apis(request: web.Request) -> web.Response:
    groups = [_group(g, v) for g, v in resources.group_versions().items() if g]
    legacy = {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    return _discovery_response(request, False, legacy)


async def get_group(request: web.Request) -> web.Response:
    name = request.match_info["group"]
    versions = resources.group_versions().get(name)
    if not name or versions is None:
        raise web.HTTPNotFound()
    return json_response({"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)})


def resource_list_response(group: str, version: str) -> web.Response | None:
    body = resource_list(group, version)
    return None if body is None else json_response(body)
