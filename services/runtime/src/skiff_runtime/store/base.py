"""A tiny persistent map id -> dataclass record, one JSON file per record, written atomically.

Everything is also kept in memory (a node has tens of pods, not millions), so reads never touch the disk;
every change is written with write-temp + rename so a crash leaves either the old or the new record, never
half of one. On start-up the directory is read back: a restarted runtime reports what it had.

IDs can be abbreviated like crictl and docker allow: `get` accepts a unique prefix.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from skiff_common.errors import NotFound

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")  # records are dataclasses: stored as their asdict()


class RecordStore(Generic[T]):
    def __init__(
        self, directory: Path, kind: str, decode: Callable[[dict[str, Any]], T], key: Callable[[T], str]
    ) -> None:
        self.kind = kind
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        self._decode = decode
        self._key = key
        self._items: dict[str, T] = {}
        for path in sorted(self._dir.glob("*.json")):
            record = decode(json.loads(path.read_text()))
            self._items[key(record)] = record

    def _path(self, record_id: str) -> Path:
        return self._dir / f"{record_id}.json"

    def put(self, record: T) -> T:
        record_id = self._key(record)
        tmp = self._path(record_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(record), indent=1, sort_keys=True))
        os.replace(tmp, self._path(record_id))
        self._items[record_id] = record
        return record

    def find(self, id_or_prefix: str) -> T | None:
        if not id_or_prefix:
            return None
        if id_or_prefix in self._items:
            return self._items[id_or_prefix]
        matches = [v for k, v in self._items.items() if k.startswith(id_or_prefix)]
        return matches[0] if len(matches) == 1 else None

    def get(self, id_or_prefix: str) -> T:
        record = self.find(id_or_prefix)
        if record is None:
            raise NotFound(f"{self.kind} {id_or_prefix!r} not found")
        return record

    def list(self) -> list[T]:
        return list(self._items.values())

    def delete(self, record_id: str) -> None:
        self._path(record_id).unlink(missing_ok=True)
        self._items.pop(record_id, None)
