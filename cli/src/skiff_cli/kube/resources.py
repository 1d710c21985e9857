"""Resource names as kubectl understands them, learnt from the server's discovery, not from a table of ours.

`pods`, `pod`, `po`, `Pod`, `deployments.apps`, `deploy.v1.apps` all name one resource; `pods,svc` names
several; `pod/web` names one object; `all` (and any other category) expands to its members. The mapping
comes from aggregated discovery (one request for /api and one for /apis), falling back to the per group
version lists on servers without it, so a resource the server adds is known at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, CliError
from .rest import Rest

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    resource: str  # the plural
    kind: str
    singular: str
    namespaced: bool
    verbs: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`deployments.apps`, `pods`: how kubectl names the resource in messages."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def kind_group(self) -> str:
        """`deployment.apps`, `pod`: the prefix of `-o name`."""
        return f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()

    def path(self, namespace: str = "", name: str = "", sub: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        return base


class Mapper:
    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self._all: list[Resource] | None = None

    def all(self) -> list[Resource]:
        """Every top-level resource, preferred versions first (as the server lists them)."""
        if self._all is None:
            self._all = self._aggregated() or self._legacy()
        return self._all

    def _aggregated(self) -> list[Resource] | None:
        found: list[Resource] = []
        for path in ("/api", "/apis"):
            doc = self.rest.get(path, accept=AGGREGATED)
            if doc.get("kind") != "APIGroupDiscoveryList":
                return None
            for group in doc.get("items") or []:
                name = (group.get("metadata") or {}).get("name", "")
                for version in group.get("versions") or []:
                    for r in version.get("resources") or []:
                        kind = (r.get("responseKind") or {}).get("kind", "")
                        found.append(
                            Resource(
                                name,
                                version["version"],
                                r["resource"],
                                kind,
                                r.get("singularResource") or kind.lower(),
                                r.get("scope") == "Namespaced",
                                tuple(r.get("verbs") or ()),
                                tuple(r.get("shortNames") or ()),
                                tuple(r.get("categories") or ()),
                                tuple(s.get("subresource", "") for s in r.get("subresources") or ()),
                            )
                        )
        return found

    def _legacy(self) -> list[Resource]:
        lists = [("", v) for v in self.rest.get("/api").get("versions", [])]
        for group in self.rest.get("/apis").get("groups", []):
            lists += [(group["name"], v["version"]) for v in group.get("versions", [])]
        found: list[Resource] = []
        for group_name, version in lists:
            path = f"/apis/{group_name}/{version}" if group_name else f"/api/{version}"
            resources = self.rest.get(path).get("resources", [])
            subs: dict[str, list[str]] = {}
            for r in resources:
                if "/" in r["name"]:
                    parent, _, sub = r["name"].partition("/")
                    subs.setdefault(parent, []).append(sub)
            for r in resources:
                if "/" in r["name"]:
                    continue
                found.append(
                    Resource(
                        group_name,
                        version,
                        r["name"],
                        r["kind"],
                        r.get("singularName") or r["kind"].lower(),
                        bool(r.get("namespaced")),
                        tuple(r.get("verbs") or ()),
                        tuple(r.get("shortNames") or ()),
                        tuple(r.get("categories") or ()),
                        tuple(subs.get(r["name"], ())),
                    )
                )
        return found

    def lookup(self, name: str) -> Resource:
        """`deploy`, `deployments.apps`, `deployment.v1.apps`, `Deployment` -> the resource."""
        word, _, rest = name.partition(".")
        version, group = "", rest
        if rest and "." in rest:
            maybe_version, _, maybe_group = rest.partition(".")
            if maybe_version.startswith("v") and maybe_version[1:2].isdigit():
                version, group = maybe_version, maybe_group
        candidates = [self._matches(word, group, version)]
        if rest:  # `foo.bar` might also be a resource with a dot in it (CRDs are not here, but be exact)
            candidates.append(self._matches(name, "", ""))
        for found in candidates:
            if found:
                return found[0]
        raise CliError(f'error: the server doesn\'t have a resource type "{word if not rest else name}"')

    def _matches(self, word: str, group: str, version: str) -> list[Resource]:
        low = word.lower()
        out = []
        for r in self.all():
            if group and r.group != group:
                continue
            if version and r.version != version:
                continue
            if low in (r.resource, r.singular, r.kind.lower()) or low in r.short_names:
                out.append(r)
        return out

    def category(self, name: str) -> list[Resource]:
        seen: set[tuple[str, str]] = set()
        out = []
        for r in self.all():
            if name in r.categories and (r.group, r.resource) not in seen:
                seen.add((r.group, r.resource))
                out.append(r)
        return out

    def for_object(self, obj: dict[str, Any]) -> Resource:
        """The resource of a manifest's object, by its apiVersion and kind."""
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        group, _, version = api_version.rpartition("/")
        for r in self.all():
            if r.kind == kind and r.group == group and r.version == version:
                return r
        raise CliError(
            f'error: resource mapping not found for name: "{(obj.get("metadata") or {}).get("name", "")}" '
            f'namespace: "{(obj.get("metadata") or {}).get("namespace", "")}" from "": no matches for kind '
            f'"{kind}" in version "{api_version}"\nensure CRDs are installed first'
        )


@dataclass
class Selection:
    """What a verb's arguments name: a resource, and the names in it (none: the whole collection)."""

    resource: Resource
    names: list[str]


def select(mapper: Mapper, args: list[str]) -> list[Selection]:
    """kubectl's argument forms: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME [TYPE/NAME...]`."""
    if not args:
        raise CliError(
            'error: you must specify the type of resource to get. Use "skiff api-resources" for a complete '
            "list of supported resources."
        )
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise CliError(
                "error: there is no need to specify a resource type as a separate argument when "
                "passing arguments in resource/name form (e.g. 'skiff get resource/<resource_name>' "
                "instead of 'skiff get resource resource/<resource_name>'"
            )
        out: list[Selection] = []
        for a in args:
            kind, _, name = a.partition("/")
            if not name:
                raise CliError("error: arguments in resource/name form must have a single resource and name")
            res = mapper.lookup(kind)
            if out and out[-1].resource == res:
                out[-1].names.append(name)
            else:
                out.append(Selection(res, [name]))
        return out
    kinds, names = args[0], args[1:]
    resources: list[Resource] = []
    for word in [k for k in kinds.split(",") if k]:
        members = mapper.category(word) if word not in ("",) else []
        try:
            resources.append(mapper.lookup(word))
        except CliError:
            if not members:
                raise
            resources.extend(members)
    return [Selection(r, list(names)) for r in resources]


def is_not_found(err: Exception) -> bool:
    return isinstance(err, ApiError) and err.http_code == 404
