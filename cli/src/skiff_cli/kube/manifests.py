"""Objects from `-f`: files, directories (-R for their subfolders), `-` for stdin; YAML with several
documents, JSON, and `kind: List` flattened -- kubectl's resource builder, with its messages for a path
that does not exist, a folder with no manifests, and a file that does not parse."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from .errors import CliError

EXTENSIONS = (".json", ".yaml", ".yml")


def add_file_flags(parser: argparse.ArgumentParser, *, required: bool = False, what: str = "to use") -> None:
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        required=required,
        help=f"files, folders or - (stdin) with the objects {what}",
    )
    parser.add_argument("-R", "--recursive", action="store_true", help="process folders recursively")


def sources(filenames: list[str], recursive: bool) -> list[tuple[str, str]]:
    """(name for messages, text) of every manifest file named."""
    out: list[tuple[str, str]] = []
    for name in filenames:
        if name == "-":
            out.append(("STDIN", sys.stdin.read()))
            continue
        path = Path(name)
        if not path.exists():
            raise CliError(f'error: the path "{name}" does not exist')
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            files = sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix in EXTENSIONS)
            if not files:
                raise CliError(f"error: error reading [{name}]: recognized file extensions are [.json .yaml .yml]")
            out += [(str(p), _read(p)) for p in files]
        else:
            out.append((name, _read(path)))
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise CliError(f"error: error reading {path}: {getattr(err, 'strerror', None) or err}") from None


def parse(name: str, text: str) -> list[dict[str, Any]]:
    try:
        docs = [json.loads(text)] if text.lstrip().startswith("{") else list(yaml.safe_load_all(text))
    except (yaml.YAMLError, ValueError) as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f"line {line + 1}: " if line is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise CliError(f"error: error parsing {name}: error converting YAML to JSON: yaml: {where}{problem}") from None
    objects: list[dict[str, Any]] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise CliError(f"error: error parsing {name}: expected an object, got {type(doc).__name__}")
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            objects += [i for i in doc["items"] if isinstance(i, dict)]
            continue
        for key in ("apiVersion", "kind"):
            if not doc.get(key):
                raise CliError(f"error: error validating data: [{key} not set]; in {name}")
        objects.append(doc)
    return objects


def load(filenames: list[str], recursive: bool = False) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, text in sources(filenames, recursive):
        found += [(name, obj) for obj in parse(name, text)]
    if not found:
        raise CliError("error: no objects passed to apply" if filenames else "error: must specify one of -f")
    return found
