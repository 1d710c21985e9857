"""One module per `skiff` subcommand; each exposes `add_parser(subparsers)` and a `run(args)`."""
