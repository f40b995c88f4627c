"""Show what a masked-LM predicts for each [MASK] in a text.

Each input is a text (or a JSON object {"text": ..., "id": ...}); each output is one JSON line, in input order:
{"text": ..., "predictions": [[{"token": "paris", "score": P}, ...], ...]}, one list of --top-k tokens per
[MASK], scores being probabilities. Works on pretraining outputs and any masked-LM folder.

Examples:
  wellread fill-mask --model bert-tiny "the capital of france is [MASK]."
  echo "she opened the [MASK] and walked in." | wellread fill-mask --model bert-tiny --top-k 3
  wellread fill-mask --model bert-tiny --input sentences.txt --backend onnx
"""

from __future__ import annotations

from wellread.infer.command import run_pipeline
from wellread.infer.options import FillMaskOptions

OPTIONS = FillMaskOptions


def run(options: FillMaskOptions) -> int:
    return run_pipeline(options, "fill-mask", top_k=options.top_k)
