"""Regenerate the Python code for every contract in proto/.

proto/ is the only source of truth; the generated *_pb2.py, *_pb2.pyi and *_pb2_grpc.py files live in
one library (libs/skiff-api) and are committed so that a fresh clone imports without a code generator.
`--check` regenerates into a scratch folder and fails when the committed files have drifted, which is
what CI runs.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT_ROOT = ROOT / "libs" / "skiff-api" / "src"
PACKAGE = "skiff"  # every generated module lives under the `skiff` package


def generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    if not protos:
        sys.exit("no .proto files under proto/")
    plugin = Path(sys.executable).parent / "protoc-gen-mypy"
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={plugin}",
        f"--mypy_out={out}",
        *protos,
    ]
    # protoc-gen-mypy chats on stderr about every file; show its output only when something fails.
    result = subprocess.run(cmd, cwd=PROTO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"protoc failed:\n{result.stdout}{result.stderr}")
    # Every generated folder is a regular package so that tools agree on module names.
    for folder in [out / PACKAGE, *(p for p in (out / PACKAGE).rglob("*") if p.is_dir())]:
        init = folder / "__init__.py"
        if not init.exists():
            init.write_text("")
    (out / PACKAGE / "py.typed").write_text("")


def tree_differs(a: Path, b: Path) -> list[str]:
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    drift = sorted(str(p) for p in files_a ^ files_b)
    drift += sorted(str(p) for p in files_a & files_b if not filecmp.cmp(a / p, b / p, shallow=False))
    return drift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            drift = tree_differs(Path(tmp) / PACKAGE, OUT_ROOT / PACKAGE)
        if drift:
            print("generated code is stale; run `make proto`:", *drift, sep="\n  ", file=sys.stderr)
            sys.exit(1)
        print("generated code is up to date")
        return
    shutil.rmtree(OUT_ROOT / PACKAGE, ignore_errors=True)
    OUT_ROOT.mkdir(parents=True, exist_ok=True)
    generate(OUT_ROOT)
    print(f"generated code written to {OUT_ROOT.relative_to(ROOT)}/{PACKAGE}")


if __name__ == "__main__":
    main()
