"""Answer questions from a context with a fine-tuned extractive QA model (SQuAD-style).

Each input is a JSON object {"question": ..., "context": ..., "id": ...} or a TSV line "question<TAB>context"
(or give one with --question and --context); each output is one JSON line, in input order:
{"answer": "New York", "start": 14, "end": 22, "score": P}, start/end being character offsets into the
context. A context longer than --max-length tokens (default 384) beside its question is read in windows that
share --doc-stride tokens, and the output says how many in "note". Models fine-tuned on SQuAD v2.0 may answer
"" (start -1) when the question has no answer in the context.

Examples:
  wellread answer --model qa-mini --question "Where does John live?" --context "John lives in New York."
  wellread answer --model qa-mini --input questions.jsonl --output answers.jsonl --backend onnx-int8
  printf 'Who wrote it?\\tThe book was written by Ann Lee in 1990.\\n' | wellread answer --model qa-mini
"""

from __future__ import annotations

import argparse
import json

from wellread.errors import WellreadError
from wellread.infer.command import add_answer_arguments, add_pipeline_arguments, answer_options, run_pipeline


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_pipeline_arguments(p, "read in overlapping windows", 384)
    p.add_argument("--question", default=None, help="one question (with --context)")
    p.add_argument("--context", default=None, help="the context of --question")
    add_answer_arguments(p)


def run(args: argparse.Namespace) -> int:
    if (args.question is None) != (args.context is None):
        raise WellreadError("--question and --context go together")
    if args.question is not None:
        args.inputs = [*args.inputs, json.dumps({"question": args.question, "context": args.context})]
    return run_pipeline(args, "answer", **answer_options(args))
