"""Fallback label selectors (same API as skiff_common.apimachinery.labels)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|[A-Za-z0-9_./-]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        val = labels.get(self.key)
        if self.op == "=":
            return has and val == self.values[0]
        if self.op == "!=":
            return not has or val != self.values[0]
        if self.op == "in":
            return has and val in self.values
        if self.op == "notin":
            return not has or val not in self.values
        if self.op == "exists":
            return has
        return not has


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = field(default=())

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        parts = []
        for r in self.requirements:
            if r.op in ("=", "!="):
                parts.append(f"{r.key}{r.op}{r.values[0]}")
            elif r.op in ("in", "notin"):
                parts.append(f"{r.key} {r.op} ({','.join(r.values)})")
            elif r.op == "exists":
                parts.append(r.key)
            else:
                parts.append(f"!{r.key}")
        return ",".join(parts)


def parse_selector(text: str) -> Selector:
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"unexpected character {text[pos]!r} at position {pos}")
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    reqs: list[Requirement] = []
    i = 0

    def expect_word() -> str:
        nonlocal i
        if i >= len(tokens) or tokens[i] in ("!=", "==", "=", "!", "(", ")", ","):
            raise ValueError(f"expected a label key or value in {text!r}")
        i += 1
        return tokens[i - 1]

    while i < len(tokens):
        if tokens[i] == "!":
            i += 1
            reqs.append(Requirement(expect_word(), "!"))
        else:
            key = expect_word()
            op = tokens[i] if i < len(tokens) else ","
            if op in ("=", "=="):
                i += 1
                value = tokens[i] if i < len(tokens) and tokens[i] not in (",",) else ""
                if value:
                    expect_word()
                reqs.append(Requirement(key, "=", (value,)))
            elif op == "!=":
                i += 1
                value = tokens[i] if i < len(tokens) and tokens[i] != "," else ""
                if value:
                    expect_word()
                reqs.append(Requirement(key, "!=", (value,)))
            elif op in ("in", "notin"):
                i += 1
                if i >= len(tokens) or tokens[i] != "(":
                    raise ValueError(f"expected '(' after {op!r} in {text!r}")
                i += 1
                values: list[str] = []
                while i < len(tokens) and tokens[i] != ")":
                    if tokens[i] == ",":
                        i += 1
                        continue
                    values.append(expect_word())
                if i >= len(tokens):
                    raise ValueError(f"missing ')' in {text!r}")
                i += 1
                reqs.append(Requirement(key, op, tuple(values)))
            elif op == ",":
                reqs.append(Requirement(key, "exists"))
            else:
                raise ValueError(f"unexpected {op!r} after key {key!r}")
        if i < len(tokens):
            if tokens[i] != ",":
                raise ValueError(f"expected ',' in {text!r}")
            i += 1
    return Selector(tuple(reqs))


def selector_from_proto(sel: object | None) -> Selector:
    if sel is None:
        return Selector()
    reqs = [Requirement(k, "=", (v,)) for k, v in sorted(sel.match_labels.items())]  # type: ignore[attr-defined]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for e in sel.match_expressions:  # type: ignore[attr-defined]
        reqs.append(Requirement(e.key, ops.get(e.operator, "in"), tuple(e.values)))
    return Selector(tuple(reqs))
