"""Field ownership (`metadata.managedFields`): who set which field, by apply or by update, as Kubernetes'
field manager (structured-merge-diff) keeps it.

- An **update** (create, PUT, any non-apply PATCH) by manager U: the fields whose value it changed
  become U's (one "Update" entry per manager, API version and subresource) and stop being anyone else's;
  no conflicts are possible, as in Kubernetes.
- An **apply** by manager A with configuration C: C is merged into the live object; every field the
  merge changes that another manager owns is a conflict (409, one cause per field and manager, as
  kubectl prints them) unless `force`, which takes those fields over. A's "Apply" entry becomes exactly
  C's fields, and the fields A applied before but not now are removed from the object unless another
  manager still owns them. Two managers applying the same value share the field.
- An object that has no managedFields yet (written through gRPC, or before field tracking) is owned
  whole by "before-first-apply" when first applied, as Kubernetes does.

The entries are computed here on JSON (fieldpaths.flatten) and stored in the object's metadata by the
same registry write as the object; an update that omits managedFields keeps them (registry/store.py).
Writes through gRPC keep but do not extend the entries (recorded in docs/architecture.md).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from skiff.api.meta.v1 import meta_pb2
from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.rest import fieldpaths
from skiff_apiserver.rest.fieldpaths import Path
from skiff_common import errors

APPLY, UPDATE = "Apply", "Update"
BEFORE_FIRST_APPLY = "before-first-apply"


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    paths: set[Path] = field(default_factory=set)
    time: tuple[int, int] = (0, 0)

    def same_slot(self, other: Entry) -> bool:
        key = (self.manager, self.operation, self.subresource)
        if self.operation == APPLY:  # one Apply entry per manager, whatever its version
            return key == (other.manager, other.operation, other.subresource)
        return key == (other.manager, other.operation, other.subresource) and self.api_version == other.api_version


def read_entries(obj: Message) -> list[Entry]:
    out = []
    for e in obj.metadata.managed_fields:  # type: ignore[attr-defined]
        raw = json.loads(e.fields_v1.raw) if e.fields_v1.raw else {}
        when = (e.time.seconds, e.time.nanos)
        out.append(Entry(e.manager, e.operation, e.api_version, e.subresource, fieldpaths.from_fields_v1(raw), when))
    return out


def write_entries(obj: Message, entries: list[Entry]) -> None:
    managed = obj.metadata.managed_fields  # type: ignore[attr-defined]
    del managed[:]
    for e in entries:
        if not e.paths:
            continue
        raw = json.dumps(fieldpaths.to_fields_v1(e.paths), separators=(",", ":"), sort_keys=True).encode()
        out = meta_pb2.ManagedFieldsEntry(
            manager=e.manager, operation=e.operation, api_version=e.api_version, fields_type="FieldsV1",
            subresource=e.subresource, fields_v1=meta_pb2.FieldsV1(raw=raw),
        )  # fmt: skip
        out.time.seconds, out.time.nanos = e.time
        managed.append(out)


def _now() -> tuple[int, int]:
    t = time.time()
    return int(t), 0


def _changed(old: dict[Path, Any], new: dict[Path, Any]) -> tuple[set[Path], set[Path]]:
    """(paths set or modified, paths removed) from old to new."""
    missing = object()
    modified = {p for p, v in new.items() if old.get(p, missing) != v}
    return modified, set(old) - set(new)


def _take(entries: list[Entry], mine: Entry) -> Entry:
    """The entry in `entries` for `mine`'s slot, added when missing (at the end, as Kubernetes orders)."""
    for e in entries:
        if e.same_slot(mine):
            return e
    entries.append(mine)
    return mine


def manager_of(field_manager: str, user_agent: str) -> str:
    """The request's manager: `fieldManager`, or else its User-Agent up to the first "/" (`kubectl`,
    `OpenAPI-Generator`), as Kubernetes names an unnamed updater."""
    if field_manager:
        if len(field_manager) > 128:
            raise errors.BadRequest("fieldManager: Too long: must have at most 128 characters")
        return field_manager
    return user_agent.split("/", 1)[0][:128] or "unknown"


def record_update(
    info: KindInfo,
    manager: str,
    old: dict[str, Any] | None,
    old_obj: Message | None,
    new: dict[str, Any],
    new_obj: Message,
    subresource: str = "",
) -> None:
    """Set `new_obj`'s managedFields after an update by `manager` from JSON `old` (None: a create) to
    `new`. The entries start from the ones the request carries, else the stored object's. A write
    through a subresource (scale) is recorded on the parent's fields, under that subresource."""
    desc: Descriptor = info.message.DESCRIPTOR  # type: ignore[assignment]
    before = fieldpaths.flatten(old, desc) if old is not None else {}
    after = fieldpaths.flatten(new, desc)
    modified, removed = _changed(before, after)
    entries = read_entries(new_obj)
    if not entries and old_obj is not None:
        entries = read_entries(old_obj)
    if not modified and not removed:
        write_entries(new_obj, entries)
        return
    for e in entries:
        e.paths -= modified | removed
    mine = _take(entries, Entry(manager, UPDATE, info.api_version, subresource))
    mine.paths = (mine.paths | modified) - removed
    mine.time = _now()
    write_entries(new_obj, entries)


@dataclass
class ApplyResult:
    merged: dict[str, Any]
    entries: list[Entry]


class ApplyConflict(errors.Conflict):
    """Conflicts of an apply: a 409 whose Status lists one FieldManagerConflict cause per field."""

    def __init__(self, message: str, causes: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.causes = causes


def _who(e: Entry) -> str:
    """A manager as Kubernetes names it in a conflict: `"m"`, with `with subresource "scale"` when it
    wrote through one, and `using apps/v1` for an updater (an applier's version is not shown)."""
    text = f'"{e.manager}"'
    if e.subresource:
        text += f' with subresource "{e.subresource}"'
    return text + (f" using {e.api_version}" if e.operation == UPDATE else "")


def conflict_error(conflicts: list[tuple[Entry, Path]]) -> ApplyConflict:
    """structured-merge-diff's wording, which kubectl prints: `Apply failed with 1 conflict: conflict
    with "m" using apps/v1: .spec.replicas`, or for several the fields listed under each manager."""
    by_manager: dict[str, list[str]] = {}
    for e, path in conflicts:
        by_manager.setdefault(_who(e), []).append(fieldpaths.describe(path))
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {m}", "field": p}
        for m, paths in by_manager.items()
        for p in paths
    ]
    if len(conflicts) == 1:
        text = f"{causes[0]['message']}: {causes[0]['field']}"
    elif len(by_manager) == 1:
        [(m, paths)] = by_manager.items()
        text = f"conflicts with {m}:\n" + "".join(f"- {p}\n" for p in paths)
    else:
        text = "conflicts with\n" + "".join(
            f"{m}:\n" + "".join(f"- {p}\n" for p in paths) for m, paths in by_manager.items()
        )
    n = len(conflicts)
    return ApplyConflict(f"Apply failed with {n} conflict{'s' if n != 1 else ''}: {text}", causes)


def apply(
    info: KindInfo,
    manager: str,
    live: dict[str, Any],
    live_obj: Message,
    config: dict[str, Any],
    merged: dict[str, Any],
    *,
    force: bool,
) -> ApplyResult:
    """The applied object and the new entries, from the live object, the configuration and their merge
    (the caller's strategic merge); raises the conflict error unless `force`."""
    desc: Descriptor = info.message.DESCRIPTOR  # type: ignore[assignment]
    entries = read_entries(live_obj)
    before = fieldpaths.flatten(live, desc)
    if not entries and before:
        entries = [Entry(BEFORE_FIRST_APPLY, UPDATE, info.api_version, "", set(before), _now())]
    config_paths = set(fieldpaths.flatten(config, desc))
    mine = _take(entries, Entry(manager, APPLY, info.api_version))
    previous = set(mine.paths)
    mine.paths, mine.api_version, mine.time = config_paths, info.api_version, _now()
    # Fields this manager applied before and no longer does go, unless somebody still owns them.
    others = set().union(*(e.paths for e in entries if e is not mine))
    stale = previous - config_paths - others
    for path in sorted(stale, key=lambda p: (p[-1] == ".", -len(p))):
        if path[-1] == "." and any(q[: len(path) - 1] == path[:-1] for q in config_paths | others):
            continue
        fieldpaths.remove(merged, path, desc)
    after = fieldpaths.flatten(merged, desc)
    modified, removed = _changed(before, after)
    changed = (modified | removed) - {p for p in modified if p[-1] == "."}
    conflicts = [(e, p) for e in entries if e is not mine for p in sorted(e.paths & changed)]
    if conflicts and not force:
        raise conflict_error(conflicts)
    for e in entries:
        if e is not mine:
            e.paths -= changed
    return ApplyResult(merged, [e for e in entries if e.paths])
