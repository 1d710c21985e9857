"""cgroupfs helpers for the interop tests: which hierarchies exist, and removing a test's cgroup root."""

from __future__ import annotations

from pathlib import Path


def cgroup_hierarchies() -> list[Path]:
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return [root]
    return [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]


def remove_cgroup_tree(name: str) -> list[str]:
    """rmdir the tree ``/<name>`` in every hierarchy (deepest first); returns the dirs that were left."""
    left = []
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / name
        if top.is_dir():
            dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
            left += [str(d) for d in dirs]
            for d in [*dirs, top]:
                d.rmdir()
    return left
