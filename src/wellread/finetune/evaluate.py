"""Evaluate a fine-tuned model on a task's dev (or test) data, beside the majority-class baseline: what
`wellread evaluate` and a recipe's evaluate stage run. `--task sts` scores a sentence-embedding model's zero-shot
similarity instead (`wellread.finetune.sts`).

The model folder must have the task's head and, for classifiers, the task's label set (in any order: predictions
are read by label name). The majority baseline uses the train split when it is found beside the evaluated file,
else the evaluated set itself.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from wellread.errors import WellreadError
from wellread.finetune.data import canonical_task, family_of
from wellread.finetune.options import EvaluateOptions, FinetuneOptions
from wellread.finetune.qa import QATask
from wellread.finetune.run import (
    HEADS,
    check_labels,
    evaluate_model,
    prepare,
    print_report,
    write_qa_predictions,
)
from wellread.finetune.sts import evaluate_sts, is_sts, speed_line
from wellread.models.checkpoint import load_model
from wellread.models.folder import read_model_folder
from wellread.options import narrow
from wellread.tasks import TASKS
from wellread.train.run import bf16_enabled


def evaluate(job: EvaluateOptions) -> dict[str, Any]:
    """Evaluate `job.model` on `job.split` of `job.data` and print the report; returns the results, also written to
    `job.output` (JSON) when given, and for QA the predictions to `job.predictions` (official SQuAD format)."""
    if is_sts(job.task):
        results = evaluate_sts(job)
        print_report(results)
        print(speed_line(results))
        return write_results(results, job.output)
    if not job.data:
        raise WellreadError("--data is required: a data folder or SPLIT=FILE items")
    split, output, predictions = job.split, job.output, job.predictions
    opts = narrow(FinetuneOptions, job)
    folder = read_model_folder(opts.model)
    task = canonical_task(opts.task)
    family = family_of(task)
    if not folder.config.architectures:
        raise WellreadError(f"{folder.path}/config.json names no architecture: is this a fine-tuned model?")
    head, labels, regression = folder.own_head(), list(folder.labels) if folder.labels else None, folder.regression
    if head != HEADS[family]:
        raise WellreadError(f"{folder.path} has a {head} head; {task} needs a {HEADS[family]} model")
    spec = TASKS.get(task)
    if spec is not None and labels is not None:
        check_labels(folder.path, task, list(spec.labels), spec.is_regression, labels, regression)
    opts = replace(opts, task=task, regression=regression)
    prep = prepare(opts, train=False, split=split, labels=labels if family != "qa" else None, folder=folder)
    model, _ = load_model(folder, HEADS[family])
    prep.tokenizer.check_compatible(model.config)
    report = evaluate_model(model, prep.task, bf16_enabled(opts.bf16))
    results: dict[str, Any] = {"task": task, "model": str(folder.path), "split": split, "files": prep.data.files,
                               "skipped_rows": prep.data.skipped_rows, **report.to_json()}
    print_report(results)
    write_results(results, output)
    if predictions and isinstance(prep.task, QATask):
        write_qa_predictions(prep.task, report, predictions)
    return results


def write_results(results: dict[str, Any], output: Path | None) -> dict[str, Any]:
    """Write `results` as JSON to `output` (when given); returns them."""
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
