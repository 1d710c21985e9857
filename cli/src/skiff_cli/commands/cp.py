"""`skiff cp POD:PATH LOCAL` and `skiff cp LOCAL POD:PATH`: files in and out of a container, as kubectl
does it -- `tar` in the container through exec, the archive made or unpacked here (members that would
land outside the destination are refused)."""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path, PurePosixPath

from ..kube import streams
from ..kube.errors import CliError
from ..kube.session import Session
from .attach import pod_and_container


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cp", help="copy files to and from containers")
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument("-c", "--container", default="")
    p.add_argument("--no-preserve", action="store_true")
    p.set_defaults(run=run)


def _remote(spec: str) -> tuple[str, str, str] | None:
    """`[namespace/]pod:path` -> (namespace, pod, path)."""
    if ":" not in spec or spec.startswith(("/", ".")):
        return None
    who, _, path = spec.partition(":")
    ns, _, pod = who.rpartition("/")
    return ns, pod, path


def _exec(s: Session, pod: str, container: str, command: list[str], data: bytes | None, out: io.BytesIO) -> int:
    found, container = pod_and_container(s, pod, container, quiet=True)
    meta = found["metadata"]
    params = [("container", container), ("stdout", "true"), ("stderr", "true")]
    params += [("stdin", "true")] if data is not None else []
    params += [("command", c) for c in command]
    ws = streams.connect(s.rest, f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/exec", params,
                         streams.CHANNEL_PROTOCOLS)  # fmt: skip
    return streams.session(ws, stdin=data is not None, tty_mode=False, stdin_data=data, stdout=out)


def run(args: argparse.Namespace) -> int:
    src, dest = _remote(args.src), _remote(args.dest)
    if bool(src) == bool(dest):
        raise CliError("error: one of src or dest must be a local file specification" if src else
                       "error: one of src or dest must be a remote file specification")  # fmt: skip
    if src:
        ns, pod, path = src
        if ns:
            args.namespace = ns
        s = Session(args)
        out = io.BytesIO()
        parent, name = str(PurePosixPath(path).parent), PurePosixPath(path).name
        _exec(s, pod, args.container, ["tar", "cf", "-", "-C", parent, name], None, out)
        out.seek(0)
        target = Path(args.dest)
        with tarfile.open(fileobj=out, mode="r:") as tar:
            members = tar.getmembers()
            if len(members) == 1 and members[0].isfile():
                extracted = tar.extractfile(members[0])
                assert extracted is not None
                final = target / name if target.is_dir() else target
                final.write_bytes(extracted.read())
                return 0
            base = target if not target.exists() else target / name
            for m in members:
                rel = PurePosixPath(m.name)
                rel = PurePosixPath(*rel.parts[1:]) if rel.parts and rel.parts[0] == name else rel
                if rel.is_absolute() or ".." in rel.parts or m.issym() or m.islnk():
                    print(f"warning: skipping {m.name}: it would land outside the destination")
                    continue
                m.name = str(rel) or "."
                tar.extract(m, base, filter="data")
        return 0
    assert dest
    ns, pod, path = dest
    if ns:
        args.namespace = ns
    s = Session(args)
    local = Path(args.src)
    if not local.exists():
        raise CliError(f"error: {args.src} doesn't exist in local filesystem")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        tar.add(str(local), arcname=PurePosixPath(path).name)
    parent = str(PurePosixPath(path).parent)
    return _exec(
        s,
        pod,
        args.container,
        ["tar", "xmf" if args.no_preserve else "xf", "-", "-C", parent],
        buf.getvalue(),
        io.BytesIO(),
    )
