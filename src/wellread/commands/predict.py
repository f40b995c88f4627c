"""Run a fine-tuned model over a file (.csv, .tsv, .jsonl or text lines) and write one JSON line per input, in order.

The task follows the model's head; each record's columns are mapped onto the inputs of that task's pipeline
(the ones `wellread classify`, `tag`, `answer` and `fill-mask` run), whose outputs are written as they are:
  sequence classifier  text (--text-column), optional text_pair (--text-pair-column)
                       -> {"label": "positive", "score": 0.93, "scores": {"negative": 0.07, "positive": 0.93}}
                       (a regression model -> {"score": 3.8})
  token classifier     a word list (--tokens-column, JSON only) or a text (--text-column)
                       -> {"entities": [{"type": "PER", "text": "John", "start": 0, "end": 4, "score": P}, ...],
                           "words": [{"index": 0, "word": "John", "start": 0, "end": 4, "tag": "B-PER",
                                      "score": P}, ...]}      ("entities" for BIO tag sets only)
  question answering   question (--question-column), context (--context-column)
                       -> {"answer": "New York", "start": 14, "end": 22, "score": P}
                       (SQuAD v2.0-trained models may answer "" with start -1)
  masked LM            a text with [MASK] (--text-column)
                       -> {"text": ..., "predictions": [[{"token": "paris", "score": P}, ...], ...]} (per mask)
An input's "id" is copied to its output line. Inputs longer than --max-length tokens are truncated (QA: read in
windows sharing --doc-stride tokens) and their output says so in "note"; the first notes are also printed.

Input formats, by suffix: .jsonl/.json/.ndjson (one object per line), .csv (quoted, header row), .tsv (GLUE
style: header row, no quoting); anything else (or "-" for stdin) is plain text, one text per line (JSON objects
also accepted there). Errors name the file and line.

Examples:
  wellread predict --model sst2-mini --input reviews.txt --output labels.jsonl
  wellread predict --model sst2-mini --input reviews.csv --text-column review --backend onnx-int8
  wellread predict --model mnli-mini --input dev_matched.tsv --text-column sentence1 --text-pair-column sentence2
  wellread predict --model qa-mini --input questions.jsonl --max-length 256 --doc-stride 64
  echo "John lives in New York ." | wellread predict --model ner-mini --input -
"""

from __future__ import annotations

from wellread.infer.options import PredictOptions
from wellread.infer.predict import predict

OPTIONS = PredictOptions


def run(options: PredictOptions) -> int:
    predict(options)
    return 0
