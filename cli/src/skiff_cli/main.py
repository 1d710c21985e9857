"""The `skiff` command: talk to a cluster as kubectl does, and run a local one.

Every verb is one module under commands/ with `add_parser(sub)`; register a new one by adding it to
VERBS. kubectl's global flags (--kubeconfig, --context, -n, -s, --request-timeout) are added to every
verb here, so a module only declares its own. Errors end as one line in kubectl's wording with exit
status 1 (kube/errors.py); a traceback is never shown for a server's or the user's mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from typing import NoReturn

import grpc
from skiff_common.errors import Invalid, SkiffError, from_rpc_error

from skiff_cli.tracing import command_span

from .commands import (
    annotate,
    api_resources,
    apply,
    attach,
    auth,
    autoscale,
    certs,
    completion,
    config_cmd,
    cp,
    create,
    delete,
    describe,
    drain,
    edit,
    explain,
    get,
    init,
    join,
    label,
    logs,
    patch,
    port_forward,
    replace,
    reset,
    rollout,
    scale,
    set_cmd,
    taint,
    token,
    top,
    up,
    version,
    wait,
)
from .commands import exec as exec_cmd
from .kube.errors import CliError
from .kube.session import add_global_flags

VERBS = [
    create, get, describe, apply, edit, delete, replace, patch, label, annotate, scale, rollout, set_cmd, taint,
    drain, wait, logs, exec_cmd, attach, port_forward, cp, explain, api_resources, version, config_cmd, completion,
    auth, certs, init, join, token, reset, top, autoscale,
]  # fmt: skip

REASONS = {
    "NotFound": "NotFound",
    "AlreadyExists": "AlreadyExists",
    "Conflict": "Conflict",
    "Invalid": "Invalid",
    "Forbidden": "Forbidden",
    "Expired": "Expired",
    "TooManyRequests": "TooManyRequests",
}


class Parser(argparse.ArgumentParser):
    """Usage errors as kubectl prints them: `error: ...`, a pointer to -h, status 1."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message}\nSee '{self.prog} -h' for help and examples", file=sys.stderr)
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="skiff", description="Skiff: a small Kubernetes-shaped orchestrator.")
    add_global_flags(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up.add_parsers(sub)
    for module in VERBS:
        module.add_parser(sub)
    for name, verb in sub.choices.items():
        if name not in ("up", "down", "certs", "completion"):
            _add_missing_globals(verb)
    return parser


def _add_missing_globals(parser: argparse.ArgumentParser) -> None:
    """Every verb (and sub-verb: `create deployment`) takes the global flags anywhere on its line."""
    scratch = argparse.ArgumentParser(add_help=False)
    add_global_flags(scratch)
    for action in scratch._actions:
        if not any(o in parser._option_string_actions for o in action.option_strings):
            parser._add_action(action)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for nested in set(action.choices.values()):
                _add_missing_globals(nested)


def describe_error(err: SkiffError) -> str:
    """kubectl's wording for the gRPC path's errors: `Error from server (NotFound): ...`."""
    if isinstance(err, Invalid) and err.errors:
        return invalid_text(err)
    reason = REASONS.get(type(err).__name__, type(err).__name__)
    return f"Error from server ({reason}): {err.message}"


describe_ = describe_error  # the old name, kept for callers outside the CLI


def invalid_text(err: Invalid) -> str:
    if len(err.errors) == 1:
        return f"The {err.summary}: {err.errors[0]}"
    return f"The {err.summary}:" + "".join(f"\n* {field_error}" for field_error in err.errors)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is the command of `exec`, `create deployment ...`, never our flags (kubectl's rule).
    after = argv[argv.index("--") + 1 :] if "--" in argv else []
    parser = build_parser()
    args, extra = parser.parse_known_args(argv[: argv.index("--")] if "--" in argv else argv)
    # argparse stops a positional list at the first flag (`label pods --all k=v`); kubectl does not.
    spill = getattr(args, "positionals_into", "")
    if extra and spill and not any(e.startswith("-") for e in extra):
        setattr(args, spill, [*getattr(args, spill), *extra])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.after_dash = after
    try:
        with command_span(argv):
            outcome = args.run(args)
            code = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
    except CliError as err:
        print(err.message, file=sys.stderr)
        code = err.code
    except SkiffError as err:
        print(describe_error(err), file=sys.stderr)
        code = 1
    except grpc.aio.AioRpcError as err:
        print(describe_error(from_rpc_error(err)), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
