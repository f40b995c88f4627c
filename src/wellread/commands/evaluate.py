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

import json
from pathlib import Path
from typing import Any

from wellread.config import load_config
from wellread.errors import WellreadError
from wellread.finetune.data import canonical_task, family_of
from wellread.finetune.options import EvaluateOptions, FinetuneOptions
from wellread.finetune.qa import QATask
from wellread.finetune.run import (
    HEADS,
    bf16_enabled,
    check_labels,
    evaluate_model,
    prepare,
    print_report,
    write_qa_predictions,
)
from wellread.models import head_of_architecture
from wellread.models.checkpoint import load_model, resolve_model_dir
from wellread.options import narrow
from wellread.tasks import TASKS

OPTIONS = EvaluateOptions


def model_head(folder: Path) -> tuple[str, list[str] | None, bool]:
    """The head a fine-tuned folder was saved with, its label names, and whether it is a regression head."""
    config = load_config(folder)
    if not config.architectures:
        raise WellreadError(f"{folder}/config.json names no architecture: is this a fine-tuned model?")
    head = head_of_architecture(config.architectures[0])
    labels = [config.id2label[i] for i in range(len(config.id2label))] if config.id2label else None
    return head, labels, config.problem_type == "regression"


def run(args: EvaluateOptions) -> int:
    folder = resolve_model_dir(args.model)
    task = canonical_task(args.task)
    family = family_of(task)
    head, labels, regression = model_head(folder)
    if head != HEADS[family]:
        raise WellreadError(f"{folder} has a {head} head; {task} needs a {HEADS[family]} model")
    spec = TASKS.get(task)
    if spec is not None and labels is not None:
        check_labels(folder, task, list(spec.labels), spec.is_regression, labels, regression)
    opts = narrow(FinetuneOptions, args, task=task, regression=regression)
    prep = prepare(opts, train=False, split=args.split, labels=labels if family != "qa" else None)
    model, _ = load_model(folder, HEADS[family])
    prep.tokenizer.check_compatible(model.config)
    report = evaluate_model(model, prep.task, bf16_enabled(args.bf16))
    results: dict[str, Any] = {"task": task, "model": str(folder), "split": args.split, "files": prep.data.files,
                               **report.to_json()}
    print_report(results)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.predictions and isinstance(prep.task, QATask):
        write_qa_predictions(prep.task, report, args.predictions)
    return 0
