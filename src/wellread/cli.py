"""`wellread <command>`: each command lives in `wellread.commands.<module>` and is imported on use.

A command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Errors caused by the user's input (WellreadError) are printed without a traceback, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from wellread.errors import WellreadError

COMMANDS: dict[str, str] = {
    "models": "wellread.commands.models",
    "tokenizer": "wellread.commands.tokenizer",
    "pretrain": "wellread.commands.pretrain",
    "fill-mask": "wellread.commands.fill_mask",
}
"""Command name -> module. Add a line here to add a command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wellread",
        description="Compact BERT models end to end: pretrain, fine-tune, distil, shorten and serve. "
                    "Run `wellread COMMAND --help` for each command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except WellreadError as err:
        print(f"wellread {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wellread {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
