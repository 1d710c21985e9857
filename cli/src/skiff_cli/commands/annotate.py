"""`skiff annotate TYPE NAME KEY=VALUE KEY-`: set or remove annotations (kube/metadata.py does the work)."""

from __future__ import annotations

import argparse

from ..kube import metadata


def add_parser(sub: argparse._SubParsersAction) -> None:
    metadata.add_parser(sub, "annotate", "annotations", "update the annotations of objects")
