"""kubectl's JSONPath templates (`-o jsonpath=...`, `--sort-by`, `custom-columns`, `wait --for=jsonpath`).

The dialect is Kubernetes' (k8s.io/client-go/util/jsonpath), not RFC 9535: literal text around `{...}`
expressions; `.a.b`, `..name` (recursive), `.*`, `[n]`, `[a:b]`, `[*]`, `['key']`, `[?(@.x=="v")]`
filters; `{range EXPR}...{end}`; string constants `{"\\n"}`; a key with dots written `a\\.b`. Several
results of one expression are joined by a space; maps and lists print as JSON, strings raw. A missing key
yields nothing (kubectl's --allow-missing-template-keys=true default).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import CliError

_MISSING = object()


def relaxed(expr: str) -> str:
    """`--sort-by` and custom-columns accept `.a.b`, `a.b` or `{.a.b}`: normalise to a template."""
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        return expr
    if not expr.startswith("."):
        expr = "." + expr
    return "{" + expr + "}"


def parse_template(template: str) -> list[Any]:
    """A tree: strings (literal text), ("path", steps), ("range", steps, body)."""
    parts: list[Any] = []
    stack: list[list[Any]] = [parts]
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            stack[-1].append(template[i:])
            break
        if start > i:
            stack[-1].append(template[i:start])
        end = _closing(template, start)
        inner = template[start + 1 : end].strip()
        i = end + 1
        if inner.startswith("range "):
            node: list[Any] = []
            stack[-1].append(("range", parse_path(inner[6:].strip()), node))
            stack.append(node)
        elif inner == "end":
            if len(stack) == 1:
                raise CliError(f"error: error parsing jsonpath {template}, not in range, nothing to end")
            stack.pop()
        elif inner.startswith('"') and inner.endswith('"') and len(inner) >= 2:
            stack[-1].append(json.loads(inner) if "\\" in inner else inner[1:-1])
        else:
            stack[-1].append(("path", parse_path(inner)))
    if len(stack) != 1:
        raise CliError(f"error: error parsing jsonpath {template}, unclosed range")
    return parts


def _closing(text: str, start: int) -> int:
    depth, quote = 0, ""
    for j in range(start, len(text)):
        ch = text[j]
        if quote:
            if ch == quote and text[j - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return j
    raise CliError(f"error: error parsing jsonpath {text}, unclosed action")


_STEP = re.compile(r"\.\.|\.|\[")


def parse_path(expr: str) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = []
    s = expr.strip()
    if s.startswith("$"):
        steps.append(("root", None))
        s = s[1:]
    elif s.startswith("@"):
        s = s[1:]
    i = 0
    while i < len(s):
        if s.startswith("..", i):
            name, i = _name(s, i + 2)
            steps.append(("recurse", name))
        elif s[i] == ".":
            name, i = _name(s, i + 1)
            if name:
                steps.append(("wild", None) if name == "*" else ("key", name))
        elif s[i] == "[":
            end = s.index("]", i) if not s.startswith("[?(", i) else s.index(")]", i) + 1
            steps.append(_bracket(s[i + 1 : end]))
            i = end + 1
        else:
            name, i = _name(s, i)
            steps.append(("key", name))
    return steps


def _name(s: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(s) and s[i] not in ".[":
        if s[i] == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out), i


def _bracket(inner: str) -> tuple[str, Any]:
    inner = inner.strip()
    if inner == "*":
        return ("wild", None)
    if inner.startswith("?(") and inner.endswith(")"):
        return ("filter", _filter(inner[2:-1]))
    if inner[:1] in "'\"":
        return ("key", inner[1:-1])
    if ":" in inner:
        parts = [int(p) if p.strip() else None for p in inner.split(":")]
        return ("slice", [*parts, None, None][:3])
    try:
        return ("index", int(inner))
    except ValueError:
        return ("key", inner)


_OPS = ("==", "!=", "<=", ">=", "<", ">", "=~")


def _filter(expr: str) -> tuple[list[tuple[str, Any]], str, Any]:
    for op in _OPS:
        if op in expr:
            left, _, right = expr.partition(op)
            right = right.strip()
            value: Any
            if right[:1] in "'\"":
                value = right[1:-1]
            else:
                try:
                    value = json.loads(right)
                except ValueError:
                    value = right
            return (parse_path(left.strip()), op, value)
    return (parse_path(expr.strip()), "exists", None)


def evaluate(steps: list[tuple[str, Any]], current: Any, root: Any) -> list[Any]:
    nodes = [current]
    for kind, arg in steps:
        out: list[Any] = []
        for node in nodes:
            if kind == "root":
                out.append(root)
            elif kind == "key":
                if isinstance(node, dict) and arg in node:
                    out.append(node[arg])
            elif kind == "wild":
                out.extend(node.values() if isinstance(node, dict) else node if isinstance(node, list) else [])
            elif kind == "index" and isinstance(node, list):
                if -len(node) <= arg < len(node):
                    out.append(node[arg])
            elif kind == "slice" and isinstance(node, list):
                out.extend(node[slice(*arg)])
            elif kind == "recurse":
                out.extend(_recurse(node, arg))
            elif kind == "filter" and isinstance(node, list):
                out.extend(item for item in node if _keep(item, root, *arg))
        nodes = out
    return nodes


def _recurse(node: Any, name: str) -> list[Any]:
    found = []
    if isinstance(node, dict):
        if name in node:
            found.append(node[name])
        for value in node.values():
            found.extend(_recurse(value, name))
    elif isinstance(node, list):
        for value in node:
            found.extend(_recurse(value, name))
    return found


def _keep(item: Any, root: Any, path: list[tuple[str, Any]], op: str, value: Any) -> bool:
    got = evaluate(path, item, root)
    if op == "exists":
        return bool(got)
    if not got:
        return False
    left = got[0]
    try:
        if op == "==":
            return bool(left == value or str(left) == str(value))
        if op == "!=":
            return bool(left != value and str(left) != str(value))
        if op == "=~":
            return re.search(str(value), str(left)) is not None
        return bool({"<": left < value, ">": left > value, "<=": left <= value, ">=": left >= value}[op])
    except TypeError:
        return False


def text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render(template: str, data: Any) -> str:
    return _render(parse_template(template), data, data)


def _render(parts: list[Any], current: Any, root: Any) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part[0] == "path":
            out.append(" ".join(text(v) for v in evaluate(part[1], current, root)))
        else:
            for item in evaluate(part[1], current, root):
                out.append(_render(part[2], item, root))
    return "".join(out)


def values(expr: str, data: Any) -> list[Any]:
    """The raw values one relaxed expression finds (for --sort-by, custom-columns, wait)."""
    parts = parse_template(relaxed(expr))
    found: list[Any] = []
    for part in parts:
        if isinstance(part, tuple) and part[0] == "path":
            found.extend(evaluate(part[1], data, data))
    return found
