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

from dataclasses import replace

from wellread.infer.command import run_pipeline
from wellread.infer.options import AnswerOptions

OPTIONS = AnswerOptions


def run(options: AnswerOptions) -> int:
    return run_pipeline(replace(options, inputs=options.all_inputs()), "answer", **options.answer_options())
