"""Copy a root filesystem tar from stdin to stdout without its character and block device nodes.

Skiff's runtime refuses device nodes in image layers (a container gets its devices from the runtime,
never from an image: skiff_runtime.images.unpack), while Docker's `docker export` of a container and
older base tarballs carry /dev/console, /dev/null and the like. build-base-image.sh pipes an image's
filesystem through this before `docker import`, so Skiff clusters can run images built on that base.

    docker export CONTAINER | python3 strip-device-nodes.py | docker import - TAG
"""

from __future__ import annotations

import sys
import tarfile


def main() -> int:
    dropped = 0
    with (
        tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as source,
        tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as out,
    ):
        for member in source:
            if member.ischr() or member.isblk():
                dropped += 1
                continue
            if member.name in (".dockerenv", "./.dockerenv"):  # `docker export`'s marker, not the image's
                continue
            out.addfile(member, source.extractfile(member) if member.isreg() else None)
    print(f"strip-device-nodes: dropped {dropped} device nodes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
