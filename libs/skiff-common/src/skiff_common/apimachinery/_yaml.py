"""YAML dialect of kubectl: what sigs.k8s.io/yaml (go-yaml v2) reads and writes, on top of PyYAML.

Reading (``KubeLoader``): YAML 1.1 booleans (yes/no/on/off) and ints stay as go-yaml resolves them, but
PyYAML's extras that go-yaml lacks are dropped: no implicit timestamps (``2024-05-01`` stays a string,
the Timestamp codec parses it), no sexagesimal numbers (``10:30`` stays a string). Floats follow go-yaml,
so ``1e3`` is a number. A key repeated in one mapping is an error, as with kubectl's strict decoding.

Writing (``KubeDumper``): block style, sequences not indented under their key, no line folding, literal
blocks for multi-line strings, and double quotes (never single) for strings that would otherwise read back
as another type, e.g. ``"1"``, ``"true"`` and timestamps, exactly as ``kubectl get -o yaml`` prints them.
"""

from __future__ import annotations

import re
from typing import Any, Final

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

_INT: Final = "tag:yaml.org,2002:int"
_FLOAT: Final = "tag:yaml.org,2002:float"
_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_INT_RE: Final = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$", re.X)
_FLOAT_RE: Final = re.compile(
    r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NUMBER_START: Final = "-+0123456789."
_OTHER_BREAKS: Final = frozenset("\r\x85\u2028\u2029")


def _resolver_table(
    base: type[yaml.resolver.BaseResolver], *, drop: tuple[str, ...], add_int: bool
) -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    table = {
        first: [(tag, rx) for tag, rx in entries if tag not in drop]
        for first, entries in base.yaml_implicit_resolvers.items()
    }
    for first in _NUMBER_START:
        entries = table.setdefault(first, [])
        if add_int:
            entries.append((_INT, _INT_RE))
        entries.append((_FLOAT, _FLOAT_RE))
    return table


class KubeLoader(yaml.SafeLoader):
    yaml_implicit_resolvers = _resolver_table(yaml.SafeLoader, drop=(_INT, _FLOAT, _TIMESTAMP), add_int=True)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f'key "{key_node.value}" already set in map',
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class KubeDumper(yaml.SafeDumper):
    # Quote whatever PyYAML *or* go-yaml would read as a non-string (the union is the safe side).
    yaml_implicit_resolvers = _resolver_table(yaml.SafeDumper, drop=(), add_int=False)

    def choose_scalar_style(self) -> str:
        style: str = super().choose_scalar_style()
        return '"' if style == "'" else style


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Literal blocks only for plain "\n" line breaks: YAML 1.1 also breaks lines at NEL, LS, PS and CR,
    # which a block would silently turn into "\n"; such strings stay double-quoted with escapes.
    literal = "\n" in data and not data.startswith((" ", "\t")) and not _OTHER_BREAKS.intersection(data)
    style = "|" if literal else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


KubeDumper.add_representer(str, _represent_str)


def load_all(text: str) -> list[Any]:
    """Every document of a YAML (or JSON) stream; yaml.YAMLError on malformed input."""
    return list(yaml.load_all(text, Loader=KubeLoader))  # KubeLoader is a SafeLoader


def dump(data: Any) -> str:
    return yaml.dump(
        data, Dumper=KubeDumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 30
    )
