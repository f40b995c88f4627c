"""Classify texts or text pairs with a fine-tuned classifier (or score them with a regression model).

Each input is a text, a JSON object {"text": ..., "text_pair": ..., "id": ...} or a TSV line "text<TAB>pair";
each output is one JSON line, in input order: {"label": ..., "score": P, "scores": {label: P, ...}}, or
{"score": X} for a regression model (STS-B, SICK-R). An input's "id" is copied to its output. Inputs are
batched by similar length and padded only to the longest of their batch; inputs longer than --max-length tokens
are truncated and their output says so in "note".

Examples:
  wellread classify --model sst2-mini "a gripping, funny film" "two hours I will not get back"
  wellread classify --model sst2-mini --input reviews.txt --output labels.jsonl --backend onnx-int8
  printf 'A man sleeps.\\tNobody sleeps.\\n' | wellread classify --model mnli-mini
  wellread classify --model stsb-mini '{"text": "A cat sits.", "text_pair": "A cat is sitting.", "id": 7}'
"""

from __future__ import annotations

from wellread.infer.command import run_pipeline
from wellread.infer.options import ClassifyOptions

OPTIONS = ClassifyOptions


def run(options: ClassifyOptions) -> int:
    return run_pipeline(options, "classify")
