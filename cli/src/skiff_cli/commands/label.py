"""`skiff label TYPE NAME KEY=VALUE KEY-`: set or remove labels (kube/metadata.py does the work)."""

from __future__ import annotations

import argparse

from ..kube import metadata


def add_parser(sub: argparse._SubParsersAction) -> None:
    metadata.add_parser(sub, "label", "labels", "update the labels of objects")
