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

import argparse
import csv
from pathlib import Path
from typing import Any

from wellread.errors import DataError
from wellread.infer.command import add_answer_arguments, add_backend_arguments, answer_options, write_outputs
from wellread.infer.inputs import file_lines, parse_line
from wellread.infer.load import load_pipeline, pipeline_task
from wellread.infer.pipeline import Pipeline, Record
from wellread.models.folder import read_model_folder

COLUMNS: dict[str, dict[str, str]] = {
    "classify": {"text": "text_column", "text_pair": "text_pair_column"},
    "tag": {"tokens": "tokens_column", "text": "text_column"},
    "answer": {"question": "question_column", "context": "context_column"},
    "fill-mask": {"text": "text_column"},
}
"""Pipeline task -> {record field: the option naming its column}; tagging takes tokens or else text."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a fine-tuned model folder (or hub id)")
    p.add_argument("--input", required=True, help="input file (.jsonl, .csv, .tsv, else text lines); - for stdin")
    p.add_argument("--text-column", default="text", help="field of the text (default text)")
    p.add_argument("--text-pair-column", default="text_pair", help="field of the second text (default text_pair)")
    p.add_argument("--question-column", default="question", help="QA: field of the question (default question)")
    p.add_argument("--context-column", default="context", help="QA: field of the context (default context)")
    p.add_argument("--tokens-column", default="tokens", help="tagging: field of the word list (default tokens)")
    add_backend_arguments(p, "truncated (QA: read in overlapping windows)", "512, QA 384")
    add_answer_arguments(p, "QA: ")


def read_inputs(path: str, text_column: str) -> list[tuple[str, dict[str, Any]]]:
    """(where, record) of every input of a file, "where" being FILE:LINE (see the module docstring for formats)."""
    suffix = Path(path).suffix.lower() if path != "-" else ""
    found: list[tuple[str, dict[str, Any]]] = []
    if suffix in (".csv", ".tsv"):
        tsv = suffix == ".tsv"
        reader = csv.DictReader((line + "\n" for _, line in file_lines(path)), delimiter="\t" if tsv else ",",
                                quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                raise DataError(f"{where}: {len(row) - 1 + len(row[None])} values, but the header names "
                                f"{len(row) - 1} columns")
            found.append((where, {name: value for name, value in row.items() if value is not None}))
    else:
        for where, line in file_lines(path):
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                found.append((where, parse_line(line, (), where)))
            elif suffix in (".jsonl", ".json", ".ndjson"):
                raise DataError(f"{where}: expected a JSON object")
            else:
                found.append((where, {text_column: line}))
    if not found:
        raise DataError(f"{'stdin' if path == '-' else path}: no inputs")
    return found


def to_record(raw: dict[str, Any], pipe: Pipeline, args: argparse.Namespace, where: str) -> Record:
    """The pipeline record of an input: its columns renamed to the task's fields, and its "id"."""
    columns = COLUMNS[pipe.task]
    record = {"id": raw["id"]} if "id" in raw else {}
    record |= {field: raw[getattr(args, option)] for field, option in columns.items() if getattr(args, option) in raw}
    if "tokens" in record:
        record.pop("text", None)  # tagging: the word list wins over the text
    for field in pipe.fields[:pipe.required]:
        if field not in record and "tokens" not in record:
            option = columns[field]
            tokens = f" (or a word list in {args.tokens_column!r})" if "tokens" in columns else ""
            raise DataError(f"{where}: no {getattr(args, option)!r} field{tokens} (fields: {sorted(raw)}); "
                            f"name it with --{option.replace('_', '-')}")
    return record


def run(args: argparse.Namespace) -> int:
    found = read_inputs(args.input, args.text_column)
    folder = read_model_folder(args.model)
    task = pipeline_task(folder)
    pipe = load_pipeline(folder, task, args.backend, args.batch_size, args.max_length, args.onnx_dir,
                         **(answer_options(args) if task == "answer" else {}))
    records = [pipe.parse(to_record(raw, pipe, args, where), where) for where, raw in found]
    write_outputs(pipe(records), [where for where, _ in found], args.output, pipe.backend.name)
    return 0
