"""Evaluate a fine-tuned model on a task's dev (or test) data, beside the majority-class baseline.

The model folder must have the task's head (a sequence classifier for GLUE/SICK/custom, a QA head for SQuAD, a
token classifier for NER/POS) and, for classifiers, the task's label set: a model whose labels differ is an
error (label order may differ: predictions are read by label name). The majority baseline uses the train split
when it is found beside the evaluated file, else the evaluated set itself. A model that predicts a single class
is reported with a loud warning.

Examples:
  wellread evaluate --model sst2-mini --task sst2 --data glue/SST-2
  wellread evaluate --model mnli-mini --task mnli --data glue_data/MNLI --output mnli-eval.json
  wellread evaluate --model qa-mini --task squad --data dev=dev-v1.1.json --predictions preds.json
  wellread evaluate --model ner-mini --task ner --data test=conll2003/test.txt --split test
  wellread evaluate --model reviews-mini --task custom --data dev=held_out.csv --text-column review
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from wellread.errors import WellreadError
from wellread.finetune.data import canonical_task, family_of
from wellread.finetune.options import add_data_arguments, add_model_arguments, options_from_args
from wellread.finetune.qa import QATask
from wellread.finetune.run import (
    HEADS,
    bf16_enabled,
    check_labels,
    evaluate_model,
    prepare,
    print_report,
    require_task_head,
    write_qa_predictions,
)
from wellread.models.checkpoint import load_model
from wellread.models.folder import read_model_folder
from wellread.tasks import TASKS

HELP = "evaluate a fine-tuned model on a task's dev/test data (metrics beside the majority baseline)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_data_arguments(p)
    p.add_argument("--split", choices=["dev", "test"], default="dev", help="the split to evaluate (default dev)")
    p.add_argument("--output", type=Path, default=None, help="write the results as JSON to this file")
    p.add_argument("--predictions", type=Path, default=None,
                   help="QA: write the predictions (official SQuAD format) to this file")


def run(args: argparse.Namespace) -> int:
    if not args.data:
        raise WellreadError("--data is required: a data folder or SPLIT=FILE items")
    folder = read_model_folder(args.model)
    task = canonical_task(args.task)
    family = family_of(task)
    require_task_head(folder, task)
    labels = list(folder.labels) if folder.labels else None
    spec = TASKS.get(task)
    if spec is not None and labels is not None:
        check_labels(folder.path, task, list(spec.labels), spec.is_regression, labels, folder.regression)
    opts = options_from_args(args, task=task)
    opts.columns.regression = folder.regression
    prep = prepare(opts, train=False, split=args.split, labels=labels if family != "qa" else None)
    model, _ = load_model(folder, HEADS[family])
    prep.tokenizer.check_compatible(model.config)
    report = evaluate_model(model, prep.task, bf16_enabled(args.bf16))
    results: dict[str, Any] = {"task": task, "model": str(folder.path), "split": args.split, "files": prep.data.files,
                               **report.to_json()}
    print_report(results)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.predictions and isinstance(prep.task, QATask):
        write_qa_predictions(prep.task, report, args.predictions)
    return 0
