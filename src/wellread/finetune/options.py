"""The options of every job that reads a task's data and model: `finetune`, `glue`, `evaluate`, `distill`,
`lengthdrop`, `search` — declared once here as groups (data, model, training), combined per job.

Each field is a command-line option (`wellread JOB --help`) and a recipe-stage key (see `wellread.options`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wellread.finetune.data import TASK_NAMES, CustomColumns
from wellread.infer.backends import BACKENDS
from wellread.options import option, positive
from wellread.train.run import OverwriteOptions

QA = "question answering"
BATCH_SIZES = (8, 16, 32, 64, 128)
LEARNING_RATES = (3e-4, 1e-4, 5e-5, 3e-5)
GRID = "grid (BERT miniatures: batch {8,16,32,64,128} x lr {3e-4,1e-4,5e-5,3e-5}, 4 epochs)"


@dataclass(kw_only=True)
class TaskDataOptions:
    """Which task, which files, and how to read them."""

    task: str | None = option(None, cli_required=True, recipe_required=True,
                              help=f"task name: {', '.join(TASK_NAMES)} (GLUE spellings like SST-2 also work)")
    data: list[str] | None = option(None, cli_required=True, metavar="DIR_OR_FILE",
                                    help="a data folder, or files as SPLIT=FILE (train=... dev=...) or in split "
                                         "order (a recipe: default the previous stage's task data)")
    text_column: str = option("text", help="custom data: the text column")
    text_pair_column: str | None = option(None, help="custom data: the second text of a pair")
    label_column: str = option("label", help="custom data: the label column")
    regression: bool = option(False, help="custom data: the label is a number to regress")
    tag_scheme: str | None = option(None, choices=("iob2", "iob1", "none"),
                                    help="CoNLL tags: iob2 (BIO, default for ner), iob1 (converted to BIO), none "
                                         "(default for pos)")

    @property
    def columns(self) -> CustomColumns:
        """The custom-data columns."""
        return CustomColumns(self.text_column, self.text_pair_column, self.label_column, self.regression)


@dataclass(kw_only=True)
class SubsetOptions:
    """Quick runs on samples of the data; malformed rows."""

    train_limit: int | None = option(None, metavar="N", help="train on a seeded random sample of N training examples")
    dev_limit: int | None = option(None, metavar="N",
                                   help="evaluate on a seeded random sample of N examples of each evaluation set")
    skip_bad_rows: bool = option(False, help="drop malformed rows with a warning (QQP has a few)")


@dataclass(kw_only=True)
class ModelOptions:
    """How a model reads its inputs: tokenizer, lengths, precision and the QA decoding."""

    tokenizer: str | None = option(None, help="tokenizer folder/file (default: the model folder's)")
    max_length: int | None = option(None, help="tokens per input (default 128; QA 384; tagging 256)")
    eval_batch_size: int = option(64, help="inputs per evaluation batch")
    doc_stride: int | None = option(None, group=QA, help="context tokens shared by consecutive windows (default 128, "
                                                         "at most a third of max length)")
    n_best: int = option(20, group=QA, help="candidate starts/ends per window")
    max_answer_length: int = option(30, group=QA, help="longest answer in tokens")
    null_threshold: float = option(0.0, group=QA, help="SQuAD v2.0: answer \"\" when the null score beats the best "
                                                       "span by more than this (default 0)")


@dataclass(kw_only=True)
class PrecisionOptions:
    """bf16 autocast for training and evaluation."""

    bf16: str = option("auto", choices=("auto", "on", "off"),
                       help="bf16 autocast: auto uses it where the CPU has native bf16")


@dataclass(kw_only=True)
class TrainingOptions(OverwriteOptions):
    """Hyper-parameters, evaluation and checkpoint cadence, and the output folder of a training job."""

    out: Path | None = option(None, cli_required=True, help="output folder (a Hugging Face model folder plus "
                                                            "results.json)")
    epochs: float | None = option(None, help="passes over the training data (default 3; grid 4)")
    max_steps: int = option(0, help="optimizer steps instead of epochs (0: use epochs)")
    batch_size: int = option(32, help="examples per optimizer step")
    grad_accum: int = option(1, help="micro-batches per step")
    lr: float = option(1e-4, help="peak learning rate")
    weight_decay: float = option(0.01, help="AdamW weight decay")
    warmup: float = option(0.1, help="warm-up: fraction of steps or a step count")
    eval_every: int | None = option(None, help="evaluate every N steps (default: each epoch; 0: only at the end)")
    save_every: int = option(500, help="resumable checkpoint every N steps")
    select_metric: str | None = option(None, help="metric that picks the best checkpoint (and grid run) (default: "
                                                  "the task's main metric)")
    seed: int = option(0, help="random seed (data order, new weights)")
    group_by_length: bool = option(True, flag="--no-length-grouping",
                                   help="plain random batches instead of batches of similar lengths (more padding, "
                                        "slower)")
    resume: bool = option(False, help="continue an interrupted run from its checkpoint")
    keep_checkpoints: bool = option(False, help="keep checkpoint/ and best/ (and every grid run's weights) after "
                                                "success")
    progress: bool = option(True, help="no progress bar")

    def epochs_or(self, default: float) -> float:
        """`epochs`, or `default` when not given."""
        return self.epochs if self.epochs is not None else default

    def check(self) -> list[tuple[str, str]]:
        return positive(self, "batch_size", "grad_accum", "lr", "epochs")


@dataclass(kw_only=True)
class HeadOptions:
    """Whether a fine-tuned checkpoint's classifier is replaced."""

    new_head: bool = option(False, help="replace a fine-tuned checkpoint's classifier (needed when its labels differ)")


@dataclass(kw_only=True)
class GridOptions:
    """The BERT-miniatures grid of batch sizes x learning rates."""

    grid: bool = option(False, group=GRID, help="run every batch size x learning rate; keep the best on dev")
    grid_batch_sizes: list[int] = option(list(BATCH_SIZES), group=GRID, comma=True, help="comma-separated")
    grid_lrs: list[float] = option(list(LEARNING_RATES), group=GRID, comma=True, help="comma-separated")

    def check(self) -> list[tuple[str, str]]:
        bad = [(n, "expected positive numbers") for n in ("grid_batch_sizes", "grid_lrs")
               if not getattr(self, n) or min(getattr(self, n)) <= 0]
        return bad + getattr(super(), "check", list)()


@dataclass(kw_only=True)
class FinetuneOptions(GridOptions, TrainingOptions, HeadOptions, PrecisionOptions, SubsetOptions, TaskDataOptions,
                      ModelOptions):
    """`wellread finetune`: one run, or the batch-size x learning-rate grid."""

    model: str | None = option(None, cli_required=True, help="model folder or Hugging Face hub id (a recipe: "
                                                             "default the previous stage's model)")


@dataclass(kw_only=True)
class GlueOptions(GridOptions, TrainingOptions, HeadOptions, PrecisionOptions, SubsetOptions, ModelOptions):
    """`wellread glue`: fine-tune and evaluate on every GLUE (and SICK) task found."""

    model: str = option(help="model folder or Hugging Face hub id")
    data: Path = option(help="GLUE folder holding CoLA/, SST-2/, MRPC/, ...")
    sick: Path | None = option(None, help="SICK folder (SICK_train.txt, SICK_trial.txt)")
    out: Path = option(help="output folder: one sub-folder per task")
    tasks: list[str] | None = option(None, comma=True, help="comma-separated subset of tasks (default: every task "
                                                            "found)")


@dataclass(kw_only=True)
class SplitOptions:
    """Which split of the task's data an evaluation reads (`wellread evaluate` and a recipe's evaluate stage)."""

    split: str = option("dev", choices=("dev", "test"), help="the split to evaluate")


@dataclass(kw_only=True)
class EvaluateOptions(SplitOptions, PrecisionOptions, SubsetOptions, TaskDataOptions, ModelOptions):
    """`wellread evaluate`: a fine-tuned model on a task's dev or test data; or (--task sts) a sentence-embedding
    model's zero-shot similarity on scored sentence pairs."""

    model: str | None = option(None, cli_required=True, help="model folder or Hugging Face hub id")
    output: Path | None = option(None, recipe=False, help="write the results as JSON to this file")
    predictions: Path | None = option(None, recipe=False,
                                      help="QA: write the predictions (official SQuAD format) to this file")
    backend: str = option("auto", choices=BACKENDS,
                          help="--task sts: the embed pipeline's backend (torch, torch-bf16, onnx, onnx-int8 after "
                               "`wellread export`, auto as in `wellread embed`)")
