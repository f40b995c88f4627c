"""Tag the words of texts with a fine-tuned token classifier (NER, POS); entities with character spans.

Each input is a text or a JSON object {"text": ..., "id": ...}; each output is one JSON line, in input order:
{"entities": [{"type": "PER", "text": "John", "start": 0, "end": 4, "score": P}, ...],
 "words": [{"word": "John", "start": 0, "end": 4, "tag": "B-PER", "score": P}, ...]}
("entities" only for BIO tag sets). Spans are character offsets into the input text: text[start:end]. Words
are split at whitespace and punctuation; each is tagged at its first sub-word. Words past --max-length tokens
are not tagged, and the output says so in "note".

Examples:
  wellread tag --model ner-mini "John Smith flew from Paris to New York on Monday."
  wellread tag --model ner-mini --input articles.jsonl --output entities.jsonl --backend onnx
"""

from __future__ import annotations

import argparse

from wellread.infer.command import add_pipeline_arguments, run_pipeline

HELP = "tag words with a fine-tuned token classifier: entities with character spans, JSON lines out"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_pipeline_arguments(p, "truncated")


def run(args: argparse.Namespace) -> int:
    return run_pipeline(args, "tag")
