"""`skiff completion bash|zsh|fish`: a script completing verbs, their flags and resource types (asked of
the server with `skiff api-resources -o name` when the user presses TAB) -- generated from the parser
itself, so a new verb completes without touching this file."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("completion", help="print a shell completion script")
    p.add_argument("shell", choices=["bash", "zsh", "fish"])
    p.set_defaults(run=run)


def verbs() -> dict[str, list[str]]:
    from ..main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sorted(o for o in p._option_string_actions if o.startswith("--")) for name, p in sub.choices.items()}


BASH = """# skiff bash completion: source <(skiff completion bash)
_skiff() {
    local cur verb words
    cur="${COMP_WORDS[COMP_CWORD]}"
    verb="${COMP_WORDS[1]}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=( $(compgen -W "%(verbs)s" -- "$cur") ); return
    fi
    case "$cur" in
        -*) case "$verb" in
%(flags)s
            esac; COMPREPLY=( $(compgen -W "$words" -- "$cur") ); return;;
    esac
    if [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=( $(compgen -W "$(skiff api-resources -o name 2>/dev/null | sed 's/\\..*//')" -- "$cur") )
    else
        words="$(skiff get "${COMP_WORDS[2]}" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null)"
        COMPREPLY=( $(compgen -W "$words" -- "$cur") )
    fi
}
complete -F _skiff skiff
"""


def run(args: argparse.Namespace) -> int:
    table = verbs()
    names = " ".join(sorted(table))
    if args.shell == "bash":
        flags = "\n".join(f'                {v}) words="{" ".join(f)}";;' for v, f in sorted(table.items()))
        sys.stdout.write(BASH % {"verbs": names, "flags": flags})
    elif args.shell == "zsh":
        sys.stdout.write(
            "#compdef skiff\n# skiff zsh completion: source <(skiff completion zsh)\n"
            "autoload -U +X bashcompinit && bashcompinit\n"
        )
        flags = "\n".join(f'                {v}) words="{" ".join(f)}";;' for v, f in sorted(table.items()))
        sys.stdout.write(BASH % {"verbs": names, "flags": flags})
    else:
        lines = [
            "# skiff fish completion: skiff completion fish | source",
            "complete -c skiff -f",
            f'complete -c skiff -n "__fish_use_subcommand" -a "{names}"',
        ]
        for verb, flags in sorted(table.items()):
            for flag in flags:
                lines.append(f'complete -c skiff -n "__fish_seen_subcommand_from {verb}" -l {flag[2:]}')
        lines.append(
            'complete -c skiff -n "__fish_seen_subcommand_from get describe delete edit label annotate" '
            '-a \'(skiff api-resources -o name 2>/dev/null | string replace -r "\\\\..*" "")\''
        )
        sys.stdout.write("\n".join(lines) + "\n")
    return 0
