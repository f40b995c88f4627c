"""Run a fine-tuned model over a file and write one JSON line per input, in input order, labels by name.

What is read depends on the model's head:
  sequence classifier  {"text": ..., "text_pair": ...} (--text-column / --text-pair-column)
                       -> {"label": "positive", "score": 0.93, "scores": {"negative": 0.07, "positive": 0.93}}
                       (a regression model -> {"score": 3.8})
  token classifier     {"tokens": [...]} or a text split on whitespace -> {"tokens": [...], "tags": [...]}
  question answering   {"question": ..., "context": ...} -> {"answer": ..., "start": CHAR, "score": P}
                       (SQuAD v2.0-trained models may answer "" = no answer)
An input's "id" is copied to its output line.

Input formats, by suffix: .jsonl/.json (one object per line), .csv (quoted, header row), .tsv (GLUE style, header
row); anything else (or "-" for stdin) is plain text, one text per line (JSON objects also accepted there).

Examples:
  wellread predict --model sst2-mini --input reviews.txt --output labels.jsonl
  wellread predict --model mnli-mini --input pairs.tsv --text-column premise --text-pair-column hypothesis
  wellread predict --model qa-mini --input questions.jsonl
  echo "John lives in New York ." | wellread predict --model ner-mini --input -
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wellread.commands.evaluate import model_head
from wellread.errors import DataError, WellreadError
from wellread.finetune.classification import encode_texts, predict_logits
from wellread.finetune.qa import answer_all, build_features, default_stride
from wellread.finetune.run import bf16_enabled
from wellread.finetune.tagging import encode_words, predict_tags
from wellread.models.checkpoint import load_model, resolve_model_dir
from wellread.tasks import QAExample
from wellread.tokenizer import Tokenizer

HELP = "predict with a fine-tuned model: JSON lines out, labels by name, input order kept"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a fine-tuned model folder (or hub id)")
    p.add_argument("--input", required=True, help="input file (.jsonl, .csv, .tsv, else text lines); - for stdin")
    p.add_argument("--output", type=Path, default=None, help="output JSON-lines file (default stdout)")
    p.add_argument("--text-column", default="text", help="field of the text (default text)")
    p.add_argument("--text-pair-column", default="text_pair", help="field of the second text (default text_pair)")
    p.add_argument("--question-column", default="question", help="QA: field of the question")
    p.add_argument("--context-column", default="context", help="QA: field of the context")
    p.add_argument("--tokens-column", default="tokens", help="tagging: field of the word list (default tokens)")
    p.add_argument("--max-length", type=int, default=None, help="tokens per input (default 128/384 QA/256 tags)")
    p.add_argument("--batch-size", type=int, default=64, help="inputs per batch (default 64)")
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="off", help="bf16 autocast (default off)")
    p.add_argument("--doc-stride", type=int, default=None, help="QA: context tokens shared by windows (default 128)")
    p.add_argument("--max-answer-length", type=int, default=30, help="QA: longest answer in tokens")
    p.add_argument("--null-threshold", type=float, default=0.0, help="QA (v2.0 models): no-answer threshold")


def _lines(path: str) -> Iterator[tuple[int, str]]:
    if path == "-":
        yield from enumerate((line.rstrip("\n") for line in sys.stdin), start=1)
        return
    try:
        with open(path, encoding="utf-8-sig") as f:
            yield from enumerate((line.rstrip("\n").removesuffix("\r") for line in f), start=1)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err})") from None


def read_inputs(path: str, text_column: str) -> list[dict[str, Any]]:
    """Records of an input file (see the module docstring for the formats)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv"):
        rows = [line for _, line in _lines(path)]
        reader = csv.DictReader(rows, delimiter="\t" if suffix == ".tsv" else ",",
                                quoting=csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL)
        return [dict(row) for row in reader]
    records = []
    for number, line in _lines(path):
        if not line.strip():
            continue
        if suffix in (".jsonl", ".json", ".ndjson") or line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: not valid JSON ({err.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object")
            records.append(record)
        else:
            records.append({text_column: line})
    if not records:
        raise DataError(f"{path}: no inputs")
    return records


def _field(records: list[dict[str, Any]], name: str, path: str, kind: type = str) -> list[Any]:
    values = []
    for i, record in enumerate(records, start=1):
        value = record.get(name)
        if not isinstance(value, kind):
            raise DataError(f"{path}: input {i} has no {kind.__name__} field {name!r} (fields: {sorted(record)})")
        values.append(value)
    return values


def predict(model, tok: Tokenizer, head: str, labels: list[str] | None, regression: bool,
            records: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One output dict per record, in order."""
    positions = model.config.max_position_embeddings
    if head == "sequence-classification":
        texts = _field(records, args.text_column, args.input)
        has_pair = any(args.text_pair_column in r for r in records)
        pairs = _field(records, args.text_pair_column, args.input) if has_pair else None
        ids, types = encode_texts(tok, texts, pairs, min(args.max_length or 128, positions))
        logits = predict_logits(model, tok, ids, types, args.batch_size)  # (N, C)
        if regression:
            return [{"score": float(row[0])} for row in logits]
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        names = labels or [str(i) for i in range(logits.shape[1])]
        return [{"label": names[int(row.argmax())], "score": round(float(row.max()), 6),
                 "scores": {name: round(float(p), 6) for name, p in zip(names, row, strict=True)}} for row in probs]
    if head == "token-classification":
        words = [r[args.tokens_column] if isinstance(r.get(args.tokens_column), list)
                 else str(r.get(args.text_column, "")).split() for r in records]
        ids, maps = encode_words(tok, words, min(args.max_length or 256, positions))
        names = labels or [str(i) for i in range(model.config.num_labels)]
        tags = predict_tags(model, tok, ids, maps, [len(w) for w in words], names, "O" if "O" in names else names[0],
                            args.batch_size)
        return [{"tokens": w, "tags": t} for w, t in zip(words, tags, strict=True)]
    if head == "question-answering":
        examples = [QAExample(str(i), q, c, []) for i, (q, c) in enumerate(zip(
            _field(records, args.question_column, args.input), _field(records, args.context_column, args.input),
            strict=True))]
        max_length = min(args.max_length or 384, positions)
        features = build_features(tok, examples, max_length, args.doc_stride or default_stride(max_length))
        answers = answer_all(model, tok, examples, features, args.batch_size, max_answer_length=args.max_answer_length,
                             allow_no_answer=bool(model.config.extra.get("squad_v2")),
                             null_threshold=args.null_threshold)
        return [{"answer": a.text, "start": a.start, "score": round(a.score, 6)} for a in answers]
    raise WellreadError(f"{args.model} has a {head} head: predict needs a fine-tuned classifier, tagger or QA model")


def run(args: argparse.Namespace) -> int:
    folder = resolve_model_dir(args.model)
    head, labels, regression = model_head(folder)
    model, _ = load_model(folder, head)
    tok = Tokenizer.load(folder)
    tok.check_compatible(model.config)
    records = read_inputs(args.input, args.text_column)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_enabled(args.bf16)):
        outputs = predict(model, tok, head, labels, regression, records, args)
    lines = [json.dumps({"id": r["id"], **o} if "id" in r else o, ensure_ascii=False)
             for r, o in zip(records, outputs, strict=True)]
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        print(f"{len(lines)} predictions written to {args.output}", file=sys.stderr)
    else:
        print("\n".join(lines))
    return 0
