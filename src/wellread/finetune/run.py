"""One fine-tuning run end to end: data -> task -> model with the right head -> the training loop -> results.

`train_once` is one run (`wellread finetune` runs `finetune.grid.finetune`: one run or the grid); `prepare`
(data, tokenizer, features) is separate so a grid reuses one tokenised task for all its runs.
Output folder: the model in the Hugging Face layout
(config.json with id2label/label2id and problem_type, model.safetensors, tokenizer files), `results.json`
(metrics, majority baselines, degenerate-model warnings, evaluation history), `log.jsonl` and, for QA,
`predictions.json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wellread.errors import WellreadError
from wellread.finetune.base import EvalReport, FinetuneTask, warn_loudly
from wellread.finetune.classification import ClassificationTask
from wellread.finetune.data import TaskData, canonical_task, family_of, load_task_data
from wellread.finetune.options import FinetuneOptions
from wellread.finetune.qa import QATask
from wellread.finetune.tagging import TaggingTask
from wellread.models import init_weights
from wellread.models.checkpoint import load_model
from wellread.models.folder import ModelFolder, read_model_folder
from wellread.tasks import label_permutation, write_predictions
from wellread.tokenizer import Tokenizer
from wellread.train.loop import TrainArgs
from wellread.train.run import Run, RunOptions

HEADS = {"classification": "sequence-classification", "qa": "question-answering", "tagging": "token-classification"}
MAX_LENGTH = {"classification": 128, "qa": 384, "tagging": 256}


class LabelMismatchError(WellreadError):
    """A model's classifier predicts another label set than the task's."""


@dataclass
class Prepared:
    """A task's data, tokenizer and features, ready for any number of runs."""

    data: TaskData
    tokenizer: Tokenizer
    task: FinetuneTask
    max_length: int


# --- the model ------------------------------------------------------------------------------------


def check_labels(folder: Path, task: str, labels: list[str], regression: bool, own: list[str],
                 own_regression: bool, hint: str = "") -> None:
    """LabelMismatchError unless a checkpoint's head (`own`) predicts the task's label set (in any order)."""
    if own_regression != regression or (not regression and sorted(own) != sorted(labels)):
        kind = "a regression score" if own_regression else f"the labels {own}"
        wanted = "a regression score" if regression else f"the labels {labels}"
        raise LabelMismatchError(f"{folder} predicts {kind} but {task} needs {wanted}{hint}")


def require_task_head(model: ModelFolder, task: str) -> None:
    """WellreadError unless the folder holds a model fine-tuned for `task`'s family (its head is the task's)."""
    family = family_of(task)
    if model.head != HEADS[family]:
        raise WellreadError(f"{model.path} has a {model.head_name} head but {task} needs a {HEADS[family]} model "
                            f"fine-tuned for it: fine-tune it first (wellread finetune --task {task} ...)")


def load_for_task(source: str | ModelFolder, data: TaskData, new_head: bool = False, quiet: bool = False,
                  complete: bool | None = None) -> nn.Module:
    """The model with the task's head, at full length (any length_config.json is not carried over). A checkpoint
    whose classifier already predicts the task's labels keeps it (rows re-ordered to the task's label order); one
    with another label set is an error unless `new_head`. `complete=True` (a teacher) refuses a model that would
    get any new weight (see `load_model`)."""
    folder = source if isinstance(source, ModelFolder) else read_model_folder(source)
    head = HEADS[data.family]
    problem_type = None
    if data.family == "classification":
        problem_type = "regression" if data.regression else "single_label_classification"
    labels = data.labels or None
    own = None if new_head or data.family == "qa" else folder.named_labels(head)
    if own is not None:
        check_labels(folder.path, data.name, data.labels, data.regression, own, folder.regression,
                     "; pass --new-head to replace its classifier with a new one")
    model, report = load_model(folder, head, labels=own or labels, problem_type=problem_type, complete=complete)
    # A searched length configuration (length_config.json) fits the weights it was searched on: training (and a
    # teacher's targets) run at full length, and the output folder gets none.
    model.length_config = None
    if own is not None and labels is not None and own != labels:
        perm = label_permutation(own, labels)  # classifier rows into the task's order
        with torch.no_grad():
            model.classifier.weight.copy_(model.classifier.weight[perm])
            model.classifier.bias.copy_(model.classifier.bias[perm])
        model.config = model.config.with_labels(labels, problem_type)
    if new_head:
        init_weights(model.qa_outputs if data.family == "qa" else model.classifier, model.config.initializer_range)
    if not quiet:
        for line in report.lines():
            print(line)
    return model


# --- the data and task ----------------------------------------------------------------------------


def default_select_metric(data: TaskData) -> str:
    """What picks the best checkpoint and grid run: the task's first GLUE metric, F1 for QA and NER."""
    if data.spec is not None:
        return data.spec.metrics[0]
    if data.family == "classification":
        return "pearson" if data.regression else "accuracy"
    if data.family == "tagging":
        return "f1" if data.scheme != "none" else "accuracy"
    return "f1"


def build_task(data: TaskData, tokenizer: Tokenizer, max_length: int, opts: FinetuneOptions) -> FinetuneTask:
    """The training-loop Task of the data's family (features are encoded here, once)."""
    if data.family == "qa":
        return QATask(data, tokenizer, max_length, opts.doc_stride, opts.batch_size, opts.eval_batch_size,
                      opts.n_best, opts.max_answer_length, opts.null_threshold)
    if data.family == "tagging":
        return TaggingTask(data, tokenizer, max_length, opts.batch_size, opts.eval_batch_size)
    return ClassificationTask(data, tokenizer, max_length, opts.batch_size, opts.eval_batch_size)


def prepare(opts: FinetuneOptions, train: bool = True, split: str = "dev", labels: list[str] | None = None,
            folder: ModelFolder | None = None) -> Prepared:
    """Read the data, load the tokenizer and encode everything once (`train=False`: evaluation only, with the
    model's `labels`, the train split read only when found). `folder`: `opts.model` already read."""
    task_name = canonical_task(opts.task)
    data = load_task_data(task_name, opts.data, train=train, split=split, columns=opts.columns, labels=labels,
                          train_limit=opts.train_limit, eval_limit=opts.dev_limit, scheme=opts.tag_scheme,
                          skip_bad_rows=opts.skip_bad_rows, seed=opts.seed)
    folder = folder or read_model_folder(opts.model)
    tokenizer = Tokenizer.load(opts.tokenizer) if opts.tokenizer else folder.load_tokenizer()
    positions = folder.config.max_position_embeddings
    max_length = min(opts.max_length or MAX_LENGTH[family_of(task_name)], positions)
    return Prepared(data, tokenizer, build_task(data, tokenizer, max_length, opts), max_length)


# --- running --------------------------------------------------------------------------------------


def evaluate_model(model: nn.Module, task: FinetuneTask, bf16: bool = False) -> EvalReport:
    """The task's full evaluation of `model` (eval mode, no gradients, optional bf16 autocast)."""
    model.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return task.score(model)


def run_options(opts: FinetuneOptions, out: Path | str | None = None, resume: bool | None = None,
                job: Any = None) -> RunOptions:
    """The harness options of a task job: `opts.out` (or `out`), resume, checkpoints, precision, overwrite, and
    the job's options (`job`, default `opts`) that a resume must match."""
    return RunOptions(Path(out if out is not None else opts.out), opts.resume if resume is None else resume,
                      opts.keep_checkpoints, opts.bf16, overwrite=opts.overwrite, job=opts if job is None else job)


def loop_args(run: Run, opts: FinetuneOptions, extra: dict[str, Any], **changes: Any) -> TrainArgs:
    """The training loop's options of a task job: `opts`' hyper-parameters (3 epochs unless given) and evaluation
    cadence, with `changes` (a grid run's lr, a stage's epochs, the select metric) and `extra` for the log."""
    args = run.args(max_steps=opts.max_steps, epochs=opts.epochs_or(3.0), batch_size=opts.batch_size,
                    grad_accum=opts.grad_accum, lr=opts.lr, weight_decay=opts.weight_decay, warmup=opts.warmup,
                    seed=opts.seed, eval_every=opts.eval_every, save_every=opts.save_every, progress=opts.progress,
                    metrics_in_postfix=("train_acc", "tokens_per_s"), extra=extra)
    return replace(args, **changes)


def kept_report(run: Run, task: FinetuneTask, family: str) -> EvalReport:
    """The full evaluation of the model a run kept: the last evaluation's when it was the best and at the end,
    else the saved model evaluated again."""
    trainer = run.trainer
    last = trainer.history[-1]["step"] if trainer.history else None
    if task.last_report is not None and last == trainer.step and run.best_step() in (None, last):
        return task.last_report
    return evaluate_model(load_model(run.out, HEADS[family])[0], task, run.bf16)


def train_once(opts: FinetuneOptions, prep: Prepared, out: Path, lr: float, batch_size: int, epochs: float,
               resume: bool = False) -> dict[str, Any]:
    """Fine-tune a fresh copy of the model into `out`; returns (and writes) its results."""
    # the run's own values of what a grid varies: a resume compares them, not the grid's lists
    job = replace(opts, lr=lr, batch_size=batch_size, epochs=epochs, grid_lrs=[lr], grid_batch_sizes=[batch_size])
    run = Run(run_options(opts, out, resume, job))
    data, task = prep.data, prep.task
    task.batch_size, task.group_by_length, task.last_report = batch_size, opts.group_by_length, None
    torch.manual_seed(opts.seed)  # the new head's initialisation
    model = load_for_task(opts.model, data, opts.new_head)
    prep.tokenizer.check_compatible(model.config)
    if data.family == "qa":
        model.config.extra["squad_v2"] = data.version == "2.0"  # lets `wellread predict` answer "no answer"
    select = opts.select_metric or default_select_metric(data)
    extra = {"task": data.name, "model": opts.model, "files": data.files, "max_length": prep.max_length}
    args = loop_args(run, opts, extra, epochs=epochs, batch_size=batch_size, lr=lr, select_metric=select)
    run.train(model, task, args, lambda t: f"{data.describe()}; {t.total_steps} steps of {batch_size}, lr {lr:g}, "
                                           f"bf16 {'on' if run.bf16 else 'off'}, {t.world} process(es) -> {run.out}")

    def results() -> dict[str, Any]:
        report = kept_report(run, task, data.family)
        if isinstance(task, QATask):
            write_qa_predictions(task, report, run.out / "predictions.json")
        return {
            "task": data.name, "model": opts.model, "out": str(run.out), "files": data.files, "labels": data.labels,
            "skipped_rows": data.skipped_rows,
            "select_metric": select, "best_step": run.best_step(), "steps": run.trainer.total_steps,
            "batch_size": batch_size, "lr": lr, "epochs": epochs, "train_examples": len(data.train),
            "train_features": task.num_examples(), "max_length": prep.max_length, "bf16": run.bf16,
            "train_seconds": round(run.seconds, 2), **report.to_json(), "history": run.trainer.history,
            "options": _jsonable(asdict(opts)),
        }

    return run.finish(results, report=print_report)


def write_qa_predictions(task: QATask, report: EvalReport, path: Path) -> None:
    """Question id -> answer text for the task's evaluation set at `path` (other sets at `<stem>_<set>.json`);
    for SQuAD v2.0 also the no-answer probabilities (`<stem>_na_probs.json`)."""
    for name, (examples, _) in task.eval_sets.items():
        predictions = dict(zip([ex.id for ex in examples], report.predictions[name], strict=True))
        na_probs = task.no_answer_probabilities.get(name) if task.data.version == "2.0" else None
        target = path if name == task.data.name else path.with_name(f"{path.stem}_{name}{path.suffix}")
        write_predictions(target, predictions, na_probs)


def print_report(results: dict[str, Any]) -> None:
    """Each metric beside its majority-class baseline; degenerate-model warnings loudly on stderr."""
    baselines = results.get("baselines", {})
    baseline = results.get("baseline", "majority-class baseline")
    for name, detail in results.get("details", {}).items():
        count = ", ".join(f"{v} {k}" for k, v in detail.items() if k in ("examples", "questions", "sentences"))
        print(f"{name} ({count}):")
    for key, value in results["metrics"].items():
        line = f"  {key:<24} {value:8.2f}"
        if key in baselines:
            line += f"   ({baseline} {baselines[key]:.2f})"
        print(line)
    for warning in results.get("warnings", []):
        warn_loudly(warning)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
