"""What the pipeline commands (classify, tag, answer, fill-mask, predict) share: arguments, reading, writing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wellread.infer.backends import BACKENDS
from wellread.infer.inputs import read_records
from wellread.infer.load import load_pipeline
from wellread.infer.pipeline import Record


def add_pipeline_arguments(p: argparse.ArgumentParser, long_inputs: str, default_length: int = 512) -> None:
    """Inputs, model, backend, batching and output options."""
    p.add_argument("inputs", nargs="*", help="inputs, each a text, a JSON object or TSV values (default: stdin)")
    p.add_argument("--model", required=True, help="a fine-tuned model folder (or hub id)")
    p.add_argument("--input", action="append", default=[], metavar="FILE",
                   help="a file of inputs, one JSON object or TSV record a line; - for stdin (repeatable)")
    add_backend_arguments(p, long_inputs, default_length)


def add_backend_arguments(p: argparse.ArgumentParser, long_inputs: str, default_length: int | str) -> None:
    """Output, backend and batching options (`default_length` is shown in --max-length's help)."""
    p.add_argument("--output", type=Path, default=None, help="JSON-lines output file (default stdout)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="torch, torch-bf16, onnx, onnx-int8 (after `wellread export --onnx`), or auto: "
                        "torch, with bf16 for batches of 48+ tokens where the CPU has native bf16 (default auto)")
    p.add_argument("--onnx-dir", default=None, help="folder of model.onnx / model_int8.onnx (default: the model's)")
    p.add_argument("--batch-size", type=int, default=32, help="inputs per forward pass (default 32)")
    p.add_argument("--max-length", type=int, default=None,
                   help=f"tokens per input; longer ones are {long_inputs} (default {default_length}, at most "
                        "the model's positions)")


def add_answer_arguments(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """The question-answering options (`AnswerPipeline`'s); `prefix` starts their help ("QA: ")."""
    p.add_argument("--doc-stride", type=int, default=None,
                   help=f"{prefix}context tokens shared by consecutive windows (default 128, at most a third of "
                        "max length)")
    p.add_argument("--max-answer-length", type=int, default=30, help=f"{prefix}longest answer in tokens (default 30)")
    p.add_argument("--null-threshold", type=float, default=0.0,
                   help=f"{prefix}SQuAD v2.0 models: answer \"\" when the no-answer score beats the best span by more")


def answer_options(args: argparse.Namespace) -> dict[str, Any]:
    """`AnswerPipeline` keyword options from the `add_answer_arguments` options."""
    return {"doc_stride": args.doc_stride, "max_answer_length": args.max_answer_length,
            "null_threshold": args.null_threshold}


def run_pipeline(args: argparse.Namespace, task: str, **options: Any) -> int:
    """Load the pipeline, run every input through it, write one JSON line per input in input order."""
    pipe = load_pipeline(args.model, task, args.backend, args.batch_size, args.max_length, args.onnx_dir, **options)
    found = read_records(args.inputs, args.input, pipe.fields)
    records = [pipe.parse(record, where) for where, record in found]
    write_outputs(pipe(records), [where for where, _ in found], args.output, pipe.backend.name)
    return 0


def write_outputs(outputs: Sequence[Record], wheres: Sequence[str], output: Path | None, backend: str) -> None:
    """One JSON line per output to `output` (or stdout); the first notes on stderr, each naming its input's place."""
    lines = [json.dumps(o, ensure_ascii=False) for o in outputs]
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        print(f"{len(lines)} outputs written to {output} ({backend})", file=sys.stderr)
    else:
        print("\n".join(lines))
    noted = [(where, o["note"]) for where, o in zip(wheres, outputs, strict=True) if "note" in o]
    for where, note in noted[:5]:
        print(f"note: {where}: {note}", file=sys.stderr)
    if len(noted) > 5:
        print(f"note: {len(noted) - 5} more inputs have notes (see their \"note\" field)", file=sys.stderr)
