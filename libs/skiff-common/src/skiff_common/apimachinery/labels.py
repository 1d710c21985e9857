"""Label selectors: the string syntax (``app=web,tier in (a,b),!canary``), LabelSelector protos, matching.

The parser is a port of apimachinery's ``labels.Parse``: a small lexer (identifiers end at whitespace or
one of ``= ! ( ) , < >``; ``in``/``notin`` are keywords only where an operator is expected) and a
recursive-descent parser with the same error texts, e.g. ``found ')', expected: identifier``. Keys must be
qualified names and values label values, checked by ``validation``. Requirements are kept sorted by key,
so ``str(selector)`` is canonical ("a=b,c in (x,y)") and equal selectors print equally.

``selector_from_proto`` follows ``LabelSelectorAsSelector`` except for one documented choice of this
project: ``None`` and an empty LabelSelector both select *everything* (Kubernetes: nil selects nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from skiff.api.meta.v1 import meta_pb2

from skiff_common.apimachinery.validation import label_value_problems, qualified_name_problems

Operator = Literal["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"]
_TOKEN: Final = re.compile(r"\s*(?:(!=|==|[=!(),<>])|([^\s=!(),<>]+))")
_PROTO_OPERATORS: Final[dict[str, Operator]] = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


@dataclass(frozen=True)
class Requirement:
    """One clause: key, operator and (for in/notin/=/==/!=/gt/lt) the values."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in ("=", "==", "in"):
            return labels.get(self.key) in self.values
        if op in ("!=", "notin"):
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        value = labels.get(self.key)  # gt / lt
        try:
            have, want = int(value or ""), int(next(iter(self.values)))
        except ValueError:
            return False
        return have > want if op == "gt" else have < want

    def __str__(self) -> str:
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return "!" + self.key
        if op in ("in", "notin"):
            return f"{self.key} {op} ({','.join(sorted(self.values))})"
        symbol = {"gt": ">", "lt": "<"}.get(op, op)
        return f"{self.key}{symbol}{next(iter(self.values))}"


@dataclass(frozen=True)
class Selector:
    """Requirements ANDed together; no requirements selects everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING: Final = Selector()


def make_requirement(key: str, operator: Operator, values: Iterable[str] = ()) -> Requirement:
    """A validated Requirement (apimachinery's NewRequirement); ValueError naming the problem."""
    vals = frozenset(values)
    if operator in ("in", "notin") and not vals:
        raise ValueError("for 'in', 'notin' operators, values set can't be empty")
    if operator in ("=", "==", "!=") and len(vals) != 1:
        raise ValueError("exact-match compatibility requires one single value")
    if operator in ("exists", "!") and vals:
        raise ValueError("values set must be empty for exists and does not exist")
    if operator in ("gt", "lt"):
        if len(vals) != 1:
            raise ValueError("for 'Gt', 'Lt' operators, exactly one value is required")
        if not re.fullmatch(r"[-+]?[0-9]+", next(iter(vals))):
            raise ValueError("for 'Gt', 'Lt' operators, the value must be an integer")
    problems = qualified_name_problems(key)
    if problems:
        raise ValueError(f'invalid label key "{key}": {problems[0]}')
    for value in sorted(vals):
        problems = label_value_problems(value)
        if problems:
            raise ValueError(f'invalid label value "{value}": {problems[0]}')
    return Requirement(key, operator, vals)


def selector_from_requirements(requirements: Iterable[Requirement]) -> Selector:
    return Selector(tuple(sorted(requirements, key=lambda r: (r.key, r.operator, sorted(r.values)))))


def selector_from_set(labels: Mapping[str, str]) -> Selector:
    """key=value for every entry (a Service's selector map); empty -> everything."""
    return selector_from_requirements(make_requirement(k, "=", (v,)) for k, v in labels.items())


def selector_from_proto(sel: meta_pb2.LabelSelector | None) -> Selector:
    """A LabelSelector message as a Selector; None and {} select everything (see module docstring)."""
    if sel is None:
        return EVERYTHING
    reqs = [make_requirement(k, "=", (v,)) for k, v in sel.match_labels.items()]
    for expr in sel.match_expressions:
        operator = _PROTO_OPERATORS.get(expr.operator)
        if operator is None:
            raise ValueError(f'"{expr.operator}" is not a valid label selector operator')
        reqs.append(make_requirement(expr.key, operator, expr.values))
    return selector_from_requirements(reqs)


def parse_selector(text: str) -> Selector:
    """Parse the string form; ValueError('unable to parse requirement: ...') on bad input."""
    try:
        return selector_from_requirements(_Parser(text).parse())
    except ValueError as exc:
        raise ValueError(f"unable to parse requirement: {exc}") from None


class _Parser:
    """Recursive descent over (kind, text) tokens; kind is the symbol itself, "id" or "end"."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:  # only trailing whitespace is left
                break
            pos = match.end()
            symbol, ident = match.groups()
            self.tokens.append((symbol, symbol) if symbol else ("id", ident))
        self.tokens.append(("end", "end of string"))
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, text = self.peek()
            if kind == "end":
                return reqs
            if kind not in ("id", "!"):
                raise ValueError(f"found '{text}', expected: !, identifier, or 'end of string'")
            reqs.append(self.requirement())
            kind, text = self.take()
            if kind == "end":
                return reqs
            if kind != ",":
                raise ValueError(f"found '{text}', expected: ',' or 'end of string'")
            kind, text = self.peek()
            if kind not in ("id", "!"):
                raise ValueError(f"found '{text}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        negated = self.peek()[0] == "!"
        if negated:
            self.take()
        kind, key = self.take()
        if kind != "id":
            raise ValueError(f"found '{key}', expected: identifier")
        if negated or self.peek()[0] in (",", "end"):
            return make_requirement(key, "!" if negated else "exists")
        kind, text = self.take()
        operators: dict[str, Operator] = {"=": "=", "==": "==", "!=": "!=", ">": "gt", "<": "lt"}
        if kind in operators:
            return make_requirement(key, operators[kind], (self.exact_value(),))
        if kind == "id" and text in ("in", "notin"):
            return make_requirement(key, "in" if text == "in" else "notin", self.value_set())
        raise ValueError(f"found '{text}', expected: in, notin, =, ==, !=, gt, lt")

    def exact_value(self) -> str:
        kind, text = self.peek()
        if kind in (",", "end"):
            return ""  # "a=" means a is the empty string
        self.take()
        if kind != "id":
            raise ValueError(f"found '{text}', expected: identifier")
        return text

    def value_set(self) -> list[str]:
        kind, text = self.take()
        if kind != "(":
            raise ValueError(f"found '{text}', expected: '('")
        values: list[str] = []
        expect_value = True
        while True:
            kind, text = self.take()
            if kind == ")":
                if expect_value:
                    values.append("")  # "()" and "(a,)" hold the empty string, as in Kubernetes
                return values
            if kind == "id" and expect_value:
                values.append(text)
                expect_value = False
            elif kind == ",":
                if expect_value:
                    values.append("")
                expect_value = True
            else:
                raise ValueError(f"found '{text}', expected: ',', ')' or identifier")
