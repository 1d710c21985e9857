"""The `skiff` command: talk to a cluster as kubectl does, and run a local one.

Errors from the server are printed the way kubectl prints them ("Error from server (NotFound): ...")
and end the command with status 1; a traceback is never shown for a server's or the user's mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys

import grpc
from skiff_common.errors import Invalid, SkiffError, from_rpc_error

from skiff_cli.tracing import command_span

from .commands import apply, certs, delete, get, init, join, logs, reset, token, up
from .commands import exec as exec_cmd

REASONS = {
    "NotFound": "NotFound",
    "AlreadyExists": "AlreadyExists",
    "Conflict": "Conflict",
    "Invalid": "Invalid",
    "Forbidden": "Forbidden",
    "Expired": "Expired",
    "TooManyRequests": "TooManyRequests",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skiff", description="Skiff: a small Kubernetes-shaped orchestrator.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up.add_parsers(sub)
    for module in (apply, get, delete, logs, exec_cmd, certs, init, join, token, reset):
        module.add_parser(sub)
    return parser


def describe(err: SkiffError) -> str:
    """kubectl's wording: `Error from server (NotFound): ...`, and `The Pod "x" is invalid: ...`."""
    if isinstance(err, Invalid) and err.errors:
        return invalid_text(err)
    reason = REASONS.get(type(err).__name__, type(err).__name__)
    return f"Error from server ({reason}): {err.message}"


def invalid_text(err: Invalid) -> str:
    if len(err.errors) == 1:
        return f"The {err.summary}: {err.errors[0]}"
    return f"The {err.summary}:" + "".join(f"\n* {field_error}" for field_error in err.errors)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        with command_span(sys.argv[1:] if argv is None else argv):
            outcome = args.run(args)
            code = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
    except SkiffError as err:
        print(describe(err), file=sys.stderr)
        code = 1
    except grpc.aio.AioRpcError as err:
        print(describe(from_rpc_error(err)), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
