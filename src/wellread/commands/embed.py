"""Embed texts: one vector per text from a bare encoder (a `BertModel` folder such as all-MiniLM-L6-v2, or any
sentence-transformers folder of a BERT or SqueezeBERT).

Each input is a text (or a JSON object {"text": ..., "id": ...}); each output is one JSON line, in input order:
{"embedding": [x1, ..., xH]}. The vector is the mean of the text's token states (or the [CLS] state with
--pooling cls), L2-normalised (unless --no-normalize): the model folder's modules.json decides the default, as
sentence-transformers reads it, and --save-pooling stores the chosen pooling there (modules.json, 1_Pooling,
2_Normalize), so `SentenceTransformer(folder)` gives the same vectors. On every backend (ONNX: the exported
encoder gives the token states, pooled here) and under a length configuration (every position pooled after
drop-and-restore). An input's "id" is copied to its output; a text longer than --max-length tokens is
truncated and its output says so in "note".

Examples:
  wellread embed --model all-MiniLM-L6-v2 "A man is playing a guitar." "Someone plays an instrument."
  wellread embed --model all-MiniLM-L6-v2 --input sentences.txt --output vectors.jsonl --backend onnx
  wellread embed --model student --pooling cls --save-pooling "a first sentence"
"""

from __future__ import annotations

from wellread.infer.command import run_embed
from wellread.infer.options import EmbedOptions

OPTIONS = EmbedOptions


def run(options: EmbedOptions) -> int:
    return run_embed(options)
