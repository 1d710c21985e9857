"""One printer layer for every verb: kubectl's `-o` formats, tables and their decorations.

Tables are the server's (`as=Table`): the columns are those kubectl prints for each kind because the
server computes them the way kube-apiserver does, so nothing here knows a kind. This module only lays
them out as kubectl's tabwriter does (cell width = widest + 3, at least 6; the last column unpadded),
and adds what kubectl adds on the client: NAMESPACE with -A, `kind/` before names when several kinds
print, LABELS (--show-labels), one column per -L key, --sort-by, --no-headers.
Structured formats: yaml, json (keys sorted, 4-space indent, as kubectl), name, jsonpath=,
jsonpath-file=, custom-columns=, go-template= (the common subset, translated to JSONPath).
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import jsonpath
from .errors import CliError
from .resources import Resource

FORMATS = ("wide", "yaml", "json", "name", "jsonpath", "jsonpath-file", "custom-columns", "go-template", "template")


def add_output_flags(parser: argparse.ArgumentParser, *, tables: bool = True) -> None:
    parser.add_argument(
        "-o", "--output", default="", help="json|yaml|name|wide|jsonpath=...|custom-columns=...|go-template=..."
    )
    parser.add_argument("--template", default="", help="the template for -o go-template/jsonpath")
    parser.add_argument(
        "--show-managed-fields", action="store_true", help="keep metadata.managedFields in structured output"
    )
    if tables:
        parser.add_argument("--show-labels", action="store_true", help="show all labels as the last column")
        parser.add_argument("-L", "--label-columns", action="append", default=[], help="labels to show as columns")
        parser.add_argument("--sort-by", default="", help="sort by a JSONPath expression, e.g. '{.metadata.name}'")
        parser.add_argument("--no-headers", action="store_true", help="print no header row")


def check_format(output: str) -> None:
    kind = output.partition("=")[0]
    if output and kind not in FORMATS:
        raise CliError(
            f'error: unable to match a printer suitable for the output format "{output}", allowed formats are: '
            + ",".join(sorted(f for f in FORMATS if f != "wide"))
        )


def is_table(output: str) -> bool:
    return output in ("", "wide")


# -- structured output -------------------------------------------------------------------------------------


def as_list(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}}


class _Dumper(yaml.SafeDumper):
    """Quotes as Go's YAML does (double quotes where a string needs them), for output like kubectl's."""

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def dump_yaml(data: Any) -> str:
    return str(
        yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 30)
    )


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def name_of(resource: Resource, obj: dict[str, Any]) -> str:
    return f"{resource.kind_group}/{obj.get('metadata', {}).get('name', '')}"


def structured(
    output: str,
    objects: list[tuple[Resource, dict[str, Any]]],
    *,
    single: bool,
    template: str = "",
    no_headers: bool = False,
    show_managed_fields: bool = False,
) -> str:
    """Everything but tables. `single`: one object asked for by name prints as itself, not as a List.
    managedFields are left out unless asked for, as kubectl does: they are server bookkeeping."""
    kind, _, arg = output.partition("=")
    arg = arg or template
    if not show_managed_fields:
        objects = [(r, _without_managed_fields(o)) for r, o in objects]
    data: Any = objects[0][1] if single and len(objects) == 1 else as_list([o for _, o in objects])
    if kind == "yaml":
        return dump_yaml(data)
    if kind == "json":
        return dump_json(data)
    if kind == "name":
        return "".join(name_of(r, o) + "\n" for r, o in objects)
    if kind in ("jsonpath", "jsonpath-file"):
        if kind == "jsonpath-file":
            arg = _read(arg)
        if not arg:
            raise CliError("error: template format specified but no template given")
        return jsonpath.render(arg, data)
    if kind in ("go-template", "template", "go-template-file"):
        return jsonpath.render(go_template(arg), data)
    if kind == "custom-columns":
        return custom_columns(arg, [o for _, o in objects], no_headers)
    raise CliError(f'error: unable to match a printer suitable for the output format "{output}"')


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as err:
        raise CliError(f"error: error reading template {path}, {err.strerror}") from None


def go_template(template: str) -> str:
    """The common go-template subset, as JSONPath: `{{.a.b}}`, `{{range .items}}`, `{{end}}`,
    `{{"\\n"}}`, `{{index .metadata.labels "app"}}`."""

    def one(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        if inner.startswith("range "):
            return "{range " + inner[6:].strip() + "[*]}"
        if inner == "end" or inner.startswith('"'):
            return "{" + inner + "}"
        index = re.fullmatch(r'index\s+(\S+)\s+"([^"]*)"', inner)
        if index:
            return "{" + index.group(1) + "['" + index.group(2) + "']}"
        if inner == ".":
            return "{@}"
        return "{" + inner + "}"

    return re.sub(r"\{\{-?(.*?)-?\}\}", one, template)


def custom_columns(spec: str, objects: list[dict[str, Any]], no_headers: bool) -> str:
    columns = []
    for part in [p for p in spec.split(",") if p]:
        header, sep, expr = part.partition(":")
        if not sep:
            raise CliError(f'error: custom-columns format specified but no custom columns given ("{part}")')
        columns.append((header, expr))
    rows = [[h for h, _ in columns]] if not no_headers else []
    for obj in objects:
        rows.append([",".join(jsonpath.text(v) for v in jsonpath.values(e, obj)) or "<none>" for _, e in columns])
    return layout(rows)


# -- tables ------------------------------------------------------------------------------------------------


def layout(rows: list[list[str]], widths: list[int] | None = None) -> str:
    """Go tabwriter(minwidth 6, padding 3) as kubectl configures it; the last cell is not padded."""
    if not rows:
        return ""
    cols = max(len(r) for r in rows)
    w = list(widths or [])
    for i in range(cols - 1):
        need = max(max((len(r[i]) for r in rows if len(r) > i + 1), default=0) + 3, 6)
        if i < len(w):
            w[i] = max(w[i], need)
        else:
            w.append(need)
    if widths is not None:
        widths[:] = w
    return "".join("".join(c.ljust(w[i]) if i < len(r) - 1 else c for i, c in enumerate(r)) + "\n" for r in rows)


@dataclass
class TableOptions:
    wide: bool = False
    with_namespace: bool = False
    with_kind: bool = False
    show_labels: bool = False
    label_columns: list[str] = field(default_factory=list)
    sort_by: str = ""
    no_headers: bool = False

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, *, with_namespace: bool = False, with_kind: bool = False
    ) -> TableOptions:
        labels = [k for v in getattr(args, "label_columns", []) or [] for k in v.split(",") if k]
        return cls(
            wide=getattr(args, "output", "") == "wide",
            with_namespace=with_namespace,
            with_kind=with_kind,
            show_labels=getattr(args, "show_labels", False),
            label_columns=labels,
            sort_by=getattr(args, "sort_by", ""),
            no_headers=getattr(args, "no_headers", False),
        )


def table_rows(
    resource: Resource, table: dict[str, Any], opts: TableOptions, *, header: bool = True
) -> list[list[str]]:
    """The Table's visible columns plus kubectl's client-side decorations, as rows of strings."""
    defs = table.get("columnDefinitions") or []
    show = [i for i, d in enumerate(defs) if opts.wide or not d.get("priority")]
    name_col = next((i for i, d in enumerate(defs) if d.get("format") == "name"), 0)
    rows_in = list(table.get("rows") or [])
    if opts.sort_by:
        rows_in = sort_rows(rows_in, opts.sort_by)
    out: list[list[str]] = []
    if header and not opts.no_headers:
        head = [str(defs[i].get("name", "")).upper() for i in show]
        if opts.with_namespace and resource.namespaced:
            head.insert(0, "NAMESPACE")
        head += [k.rpartition("/")[2].upper() for k in opts.label_columns]
        if opts.show_labels:
            head.append("LABELS")
        out.append(head)
    for row in rows_in:
        cells = row.get("cells") or []
        meta = (row.get("object") or {}).get("metadata") or {}
        line = []
        for i in show:
            value = _cell(cells[i] if i < len(cells) else None)
            if i == name_col and opts.with_kind:
                value = f"{resource.kind_group}/{value}"
            line.append(value)
        if opts.with_namespace and resource.namespaced:
            line.insert(0, meta.get("namespace", ""))
        labels = meta.get("labels") or {}
        line += [str(labels.get(k, "")) for k in opts.label_columns]
        if opts.show_labels:
            line.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
        out.append(line)
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(_cell(v) for v in value) + "]"
    return str(value)


def sort_rows(rows: list[dict[str, Any]], expr: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: sort_key(r.get("object") or {}, expr))


def sort_key(obj: dict[str, Any], expr: str) -> tuple[int, Any]:
    """Numbers before strings, each in their own order (kubectl compares like with like)."""
    found = jsonpath.values(expr, obj)
    if not found:
        return (0, "")
    value = found[0]
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, jsonpath.text(value))


def no_resources(namespace: str) -> str:
    return f"No resources found in {namespace} namespace." if namespace else "No resources found"
