"""The shim's entry point: ``python -m skiff_runtime.oci.shim --id ID --bundle B --state-dir D ...``,
or ``main(argv, detach=False)`` in a child forked by the shim factory (``zygote.py``).

It parses the flags, picks the backend (``native.py``, or ``runc.py`` when ``--runtime`` names runc or
crun) and runs it until the container is deleted. ``main()`` must stay safe to run in a child forked
from the factory: it imports nothing new, creates its event loop only in the final process, and never
returns to the caller's code (the factory ``_exit``s with its return value). The lifecycle is drawn in
``shim/__init__.py``.
"""

from __future__ import annotations

import argparse
import logging
import os

from skiff_runtime.oci.shim import native, runc
from skiff_runtime.oci.shim.answer import ready_callback


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skiff-shim")
    parser.add_argument("--id", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--log-path", default=None)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--runtime", default=None, help="runc/crun binary: delegate isolation to it")
    parser.add_argument("--runtime-root", default=None, help="the runtime's --root state directory")
    return parser


# Built at import, i.e. once in the shim factory: constructing an ArgumentParser looks up gettext
# catalogues on disk, ~1.5 ms that every forked shim would pay again.
PARSER = _parser()


def configure_logging() -> None:
    """stderr is <state_dir>/shim.log; plain logging keeps the shim free of service-only dependencies.
    The factory calls it at start-up (its stderr, fd 2, becomes each child's shim.log), which leaves
    the call in ``main`` a no-op there."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def main(argv: list[str] | None = None, *, detach: bool = True) -> int:
    """detach: fork once more and let the first process exit (spawned by the executor: not its child
    for long). The factory passes False: its children are reaped by the kernel (SIGCHLD ignored
    there), so another fork would only add a process and copy-on-write faults to every create."""
    args = PARSER.parse_args(argv)
    configure_logging()
    if detach and os.fork() != 0:
        os._exit(0)  # the executor reaps this one; the grandchild is the shim
    os.chdir("/")
    if not args.runtime:
        prepared = native.create_container(args)
        return 1 if prepared is None else prepared.run()
    sup = runc.create_with_runtime(args)
    if sup is None:
        return 1
    sup.run(ready_callback(sup, args.ready_fd))
    return 0
