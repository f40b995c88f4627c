"""One fine-tuning run end to end: data -> task -> model with the right head -> the training loop -> results.

`finetune(options)` is what `wellread finetune` runs; `prepare` (data, tokenizer, features) is separate so a
grid reuses one tokenised task for all its runs. Output folder: the model in the Hugging Face layout
(config.json with id2label/label2id and problem_type, model.safetensors, tokenizer files), `results.json`
(metrics, majority baselines, degenerate-model warnings, evaluation history), `log.jsonl` and, for QA,
`predictions.json`.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from wellread.errors import WellreadError
from wellread.finetune.base import EvalReport, FinetuneTask, warn_loudly
from wellread.finetune.classification import ClassificationTask
from wellread.finetune.data import CustomColumns, TaskData, canonical_task, family_of, load_task_data
from wellread.finetune.qa import QATask
from wellread.finetune.tagging import TaggingTask
from wellread.hardware import bf16_supported
from wellread.models import init_weights
from wellread.models.checkpoint import load_model
from wellread.models.folder import ModelFolder, read_model_folder
from wellread.tasks import label_permutation, write_predictions
from wellread.tokenizer import Tokenizer
from wellread.train.loop import TrainArgs, Trainer

HEADS = {"classification": "sequence-classification", "qa": "question-answering", "tagging": "token-classification"}
MAX_LENGTH = {"classification": 128, "qa": 384, "tagging": 256}


class LabelMismatchError(WellreadError):
    """A model's classifier predicts another label set than the task's."""


@dataclass
class FinetuneOptions:
    """Everything a fine-tuning run needs (the `wellread finetune` options)."""

    model: str
    task: str
    data: list[str]
    out: Path
    tokenizer: str | None = None
    """Tokenizer folder or file (default: the model folder's)."""
    columns: CustomColumns = field(default_factory=CustomColumns)
    epochs: float | None = None
    """Passes over the training data (default 3, 4 for a grid)."""
    max_steps: int = 0
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.1
    max_length: int | None = None
    """Tokens per input (default 128 classification, 384 QA, 256 tagging)."""
    eval_every: int | None = None
    """Evaluate every N steps (default: once per epoch) and always at the end."""
    eval_batch_size: int = 64
    save_every: int = 500
    select_metric: str | None = None
    bf16: str = "auto"
    seed: int = 0
    train_limit: int | None = None
    dev_limit: int | None = None
    tag_scheme: str | None = None
    doc_stride: int | None = None
    """QA: context tokens shared by consecutive windows (default: 128, at most a third of max_length)."""
    n_best: int = 20
    max_answer_length: int = 30
    null_threshold: float = 0.0
    group_by_length: bool = True
    """Batches of similar lengths (less padding); False: plain random batches."""
    new_head: bool = False
    resume: bool = False
    keep_checkpoints: bool = False
    skip_bad_rows: bool = False
    progress: bool = True

    def epochs_or(self, default: float) -> float:
        """`epochs`, or `default` when not given."""
        return self.epochs if self.epochs is not None else default


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


def load_for_task(source: str | ModelFolder, data: TaskData, new_head: bool = False, quiet: bool = False) -> nn.Module:
    """The model with the task's head, at full length (any length_config.json is not carried over). A checkpoint
    whose classifier already predicts the task's labels keeps it (rows re-ordered to the task's label order); one
    with another label set is an error unless `new_head`."""
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
    model, report = load_model(folder, head, labels=own or labels, problem_type=problem_type)
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


def prepare(opts: FinetuneOptions, train: bool = True, split: str = "dev", labels: list[str] | None = None) -> Prepared:
    """Read the data, load the tokenizer and encode everything once (`train=False`: evaluation only, with the
    model's `labels`, the train split read only when found)."""
    task_name = canonical_task(opts.task)
    data = load_task_data(task_name, opts.data, train=train, split=split, columns=opts.columns, labels=labels,
                          train_limit=opts.train_limit, eval_limit=opts.dev_limit, scheme=opts.tag_scheme,
                          skip_bad_rows=opts.skip_bad_rows, seed=opts.seed)
    folder = read_model_folder(opts.model)
    tokenizer = Tokenizer.load(opts.tokenizer) if opts.tokenizer else folder.load_tokenizer()
    positions = folder.config.max_position_embeddings
    max_length = min(opts.max_length or MAX_LENGTH[family_of(task_name)], positions)
    return Prepared(data, tokenizer, build_task(data, tokenizer, max_length, opts), max_length)


# --- running --------------------------------------------------------------------------------------


def bf16_enabled(choice: str) -> bool:
    """--bf16 auto|on|off: auto uses bf16 autocast where the CPU has native bf16 instructions."""
    if choice not in ("auto", "on", "off"):
        raise WellreadError(f"--bf16 must be auto, on or off, not {choice!r}")
    return choice == "on" or (choice == "auto" and bf16_supported())


def evaluate_model(model: nn.Module, task: FinetuneTask, bf16: bool = False) -> EvalReport:
    """The task's full evaluation of `model` (eval mode, no gradients, optional bf16 autocast)."""
    model.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return task.score(model)


def train_once(opts: FinetuneOptions, prep: Prepared, out: Path, lr: float, batch_size: int, epochs: float,
               resume: bool = False) -> dict[str, Any]:
    """Fine-tune a fresh copy of the model into `out`; returns (and writes) its results."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    resuming = resume and (out / "checkpoint" / "trainer_state.pt").is_file()
    if not resuming:
        for stale in ("log.jsonl", "results.json"):
            (out / stale).unlink(missing_ok=True)
        for stale in ("best", "checkpoint"):
            shutil.rmtree(out / stale, ignore_errors=True)
    data, task = prep.data, prep.task
    task.batch_size, task.group_by_length = batch_size, opts.group_by_length
    task.last_report = None
    torch.manual_seed(opts.seed)  # the new head's initialisation
    model = load_for_task(opts.model, data, opts.new_head)
    prep.tokenizer.check_compatible(model.config)
    if data.family == "qa":
        model.config.extra["squad_v2"] = data.version == "2.0"  # lets `wellread predict` answer "no answer"
    select = opts.select_metric or default_select_metric(data)
    bf16 = bf16_enabled(opts.bf16)
    steps_per_epoch = math.ceil(task.num_examples() / batch_size) if task.num_examples() else 1
    args = TrainArgs(
        output_dir=out, max_steps=opts.max_steps, epochs=epochs, batch_size=batch_size, grad_accum=opts.grad_accum,
        lr=lr, weight_decay=opts.weight_decay, warmup=opts.warmup, bf16=bf16, seed=opts.seed,
        eval_every=opts.eval_every if opts.eval_every is not None else steps_per_epoch,
        save_every=opts.save_every, select_metric=select, progress=opts.progress,
        metrics_in_postfix=("train_acc", "tokens_per_s"),
        extra={"task": data.name, "model": opts.model, "files": data.files, "max_length": prep.max_length})
    trainer = Trainer(model, task, args)
    if trainer.rank == 0:
        print(f"{data.describe()}; {trainer.total_steps} steps of {batch_size}, lr {lr:g}, "
              f"bf16 {'on' if bf16 else 'off'}, {trainer.world} process(es) -> {out}", flush=True)
    start = time.perf_counter()
    trainer.fit(resume=resuming)
    seconds = time.perf_counter() - start
    if trainer.world > 1 and trainer.rank != 0:
        dist.barrier()  # process 0 evaluates the saved model and writes results.json
        return json.loads((out / "results.json").read_text(encoding="utf-8"))
    best_step = next((r["step"] for r in trainer.history if r.get(select) == trainer.best), None)
    last = trainer.history[-1]["step"] if trainer.history else None
    report = task.last_report
    if report is None or last != trainer.step or (best_step is not None and best_step != last):
        report = evaluate_model(load_model(out, HEADS[data.family])[0], task, bf16)  # the model that was saved
    results = {
        "task": data.name, "model": opts.model, "out": str(out), "files": data.files, "labels": data.labels,
        "select_metric": select, "best_step": best_step, "steps": trainer.total_steps, "batch_size": batch_size,
        "lr": lr, "epochs": epochs, "train_examples": len(data.train), "train_features": task.num_examples(),
        "max_length": prep.max_length, "bf16": bf16, "train_seconds": round(seconds, 2),
        **report.to_json(), "history": trainer.history, "options": _jsonable(asdict(opts)),
    }
    write_results(out, results, report, task)
    if not opts.keep_checkpoints:
        for folder in ("best", "checkpoint"):
            shutil.rmtree(out / folder, ignore_errors=True)
    print_report(results)
    if trainer.world > 1:
        dist.barrier()
    return results


def write_results(out: Path, results: dict[str, Any], report: EvalReport, task: FinetuneTask) -> None:
    """results.json, and for QA the predictions of each evaluation set in the official SQuAD format."""
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if isinstance(task, QATask):
        write_qa_predictions(task, report, out / "predictions.json")


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
    for name, detail in results.get("details", {}).items():
        count = ", ".join(f"{v} {k}" for k, v in detail.items() if k in ("examples", "questions", "sentences"))
        print(f"{name} ({count}):")
    for key, value in results["metrics"].items():
        line = f"  {key:<24} {value:8.2f}"
        if key in baselines:
            line += f"   (majority-class baseline {baselines[key]:.2f})"
        print(line)
    for warning in results.get("warnings", []):
        warn_loudly(warning)


def finetune(opts: FinetuneOptions) -> dict[str, Any]:
    """`wellread finetune`: one run, or the grid of batch sizes x learning rates when `grid` options are set."""
    prep = prepare(opts)
    return train_once(opts, prep, opts.out, opts.lr, opts.batch_size, opts.epochs_or(3.0), opts.resume)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
