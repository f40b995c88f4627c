"""`wellread <command>`: each command lives in `wellread.commands.<module>` and is imported on use.

A command module's docstring is its --help. A job's module names its options dataclass, `OPTIONS`, from which the
parser is generated (`wellread.options`), and `run(options) -> int`; a command with sub-commands (corpus,
tokenizer) defines `add_arguments(parser)` and `run(args) -> int` itself.
Errors caused by the user's input (WellreadError), and OSErrors about the user's files or disk (a read-only or
full disk, `--out` under a file: `os_error_message`), are printed in one line without a traceback, exit status 2.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from wellread.errors import WellreadError
from wellread.malloc import tune_malloc
from wellread.options import add_arguments, from_args

COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("wellread.commands.models", "list the model presets with parameter counts"),
    "corpus": ("wellread.commands.corpus", "build a clean, de-duplicated corpus; pack it into training sequences"),
    "tokenizer": ("wellread.commands.tokenizer", "train a WordPiece vocabulary; encode text with one"),
    "pretrain": ("wellread.commands.pretrain", "pretrain with masked-LM (+ sentence order) on packed sequences"),
    "fill-mask": ("wellread.commands.fill_mask", "show a masked-LM's predictions for [MASK] tokens"),
    "plot": ("wellread.commands.plot", "plot a run's training and validation curves to a PNG"),
    "finetune": ("wellread.commands.finetune", "fine-tune on GLUE, SICK, QA, NER or your own data (grid search)"),
    "glue": ("wellread.commands.glue", "fine-tune and evaluate on every GLUE task found; print the table"),
    "evaluate": ("wellread.commands.evaluate", "evaluate a fine-tuned model on a task's data"),
    "predict": ("wellread.commands.predict", "predict labels for a file with a fine-tuned model"),
    "distill": ("wellread.commands.distill", "distil a teacher into a smaller student (soft targets, TinyBERT layers)"),
    "lengthdrop": ("wellread.commands.lengthdrop", "train a fine-tuned model to run at any length per layer"),
    "search": ("wellread.commands.search", "search the fastest length configuration within a metric budget"),
    "classify": ("wellread.commands.classify", "classify texts or text pairs (or regress); JSON lines out"),
    "embed": ("wellread.commands.embed", "sentence embeddings from a bare encoder; JSON lines out"),
    "tag": ("wellread.commands.tag", "tag words (NER, POS): entities with character spans; JSON lines out"),
    "answer": ("wellread.commands.answer", "answer questions from contexts (extractive QA); JSON lines out"),
    "export": ("wellread.commands.export", "export to ONNX (dynamic axes, optional int8), checked against PyTorch"),
    "serve": ("wellread.commands.serve", "serve a model over HTTP (JSON API, micro-batching, limits, health)"),
    "bench": ("wellread.commands.bench", "latency and throughput across backends and lengths: table and plot"),
    "run": ("wellread.commands.run", "run a recipe: raw text -> pretrained, fine-tuned, evaluated model + card"),
    "quickstart": ("wellread.commands.quickstart", "offline demo recipe: raw text -> compact BERT + card in minutes"),
    "doctor": ("wellread.commands.doctor", "this machine: CPU features, threads, allocator, auto choices, peak GEMM "
                                           "rates (MFU)"),
}
"""Command name -> (module, one-line help). Only the command being run is imported (torch is slow to load)."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; the full arguments of `command` only (every command when None)."""
    parser = argparse.ArgumentParser(
        prog="wellread",
        description="Compact BERT models end to end: pretrain, fine-tune, distil, shorten and serve. "
                    "Run `wellread COMMAND --help` for each command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if hasattr(module, "OPTIONS"):
            add_arguments(p, module.OPTIONS)
            p.set_defaults(_run=lambda args, m=module: m.run(from_args(m.OPTIONS, args)))
        else:
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


DISK_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exhausted",
               errno.EROFS: "the file system is read-only"}
"""Errors of the output disk that name no file (a write to an open file): said with the output folder."""


def os_error_message(err: OSError, out: object = None) -> str | None:
    """One line for an OSError about the user's files or disk: one that names its file (a read-only or missing
    folder, `--out` under a file) or a full / read-only disk (named with the output folder `out` when there is
    one); None for any other OSError, which is a bug in wellread and keeps its traceback."""
    reason = err.strerror or type(err).__name__
    if err.filename is not None:
        target = f"{err.filename} -> {err.filename2}" if err.filename2 is not None else str(err.filename)
        hint = " (a file where a folder is needed?)" if err.errno in (errno.ENOTDIR, errno.EEXIST) else ""
        return f"{target}: {reason}{hint}"
    if err.errno in DISK_ERRORS:
        where = f" while writing under {out}" if out else " while writing the output"
        return f"{DISK_ERRORS[err.errno]}{where} ({reason})"
    return None


def main(argv: list[str] | None = None) -> int:
    tune_malloc()
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(chosen if chosen in COMMANDS else "").parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except WellreadError as err:
        print(f"wellread {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        message = os_error_message(err, getattr(args, "out", None))
        if message is None:
            raise
        print(f"wellread {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wellread {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
