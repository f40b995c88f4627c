"""Tag the words of texts with a fine-tuned token classifier (NER, POS); entities with character spans.

Each input is a text, a JSON object {"text": ..., "id": ...} or pre-split words {"tokens": [...]} (CoNLL
style, joined with spaces); each output is one JSON line, in input order:
{"entities": [{"type": "PER", "text": "John", "start": 0, "end": 4, "score": P}, ...],
 "words": [{"index": 0, "word": "John", "start": 0, "end": 4, "tag": "B-PER", "score": P}, ...]}
("entities" only for BIO tag sets). Spans are character offsets into the text: text[start:end]. A text is
split into words at whitespace and punctuation; each word is tagged at its first sub-word, as in fine-tuning.
Words past --max-length tokens are not tagged, and the output says so in "note".

Examples:
  wellread tag --model ner-mini "John Smith flew from Paris to New York on Monday."
  wellread tag --model ner-mini --input articles.jsonl --output entities.jsonl --backend onnx
  wellread tag --model ner-mini '{"tokens": ["EU", "rejects", "German", "call", "."]}'
"""

from __future__ import annotations

from wellread.infer.command import run_pipeline
from wellread.infer.options import TagOptions

OPTIONS = TagOptions


def run(options: TagOptions) -> int:
    return run_pipeline(options, "tag")
