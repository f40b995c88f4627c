"""Command-line options shared by `wellread finetune`, `glue`, `evaluate` and `predict`."""

from __future__ import annotations

import argparse
from pathlib import Path

from wellread.finetune.data import TASK_NAMES, CustomColumns
from wellread.finetune.grid import BATCH_SIZES, LEARNING_RATES, parse_list
from wellread.finetune.run import FinetuneOptions


def add_data_arguments(p: argparse.ArgumentParser, task_required: bool = True) -> None:
    """--task, --data, the custom-file columns, subsets and the tag scheme."""
    p.add_argument("--task", required=task_required,
                   help=f"task name: {', '.join(TASK_NAMES)} (GLUE spellings like SST-2 also work)")
    p.add_argument("--data", nargs="+", metavar="DIR_OR_FILE",
                   help="a data folder, or files as SPLIT=FILE (train=... dev=...) or in split order")
    p.add_argument("--text-column", default="text", help="custom data: the text column (default text)")
    p.add_argument("--text-pair-column", default=None, help="custom data: the second text of a pair")
    p.add_argument("--label-column", default="label", help="custom data: the label column (default label)")
    p.add_argument("--regression", action="store_true", help="custom data: the label is a number to regress")
    p.add_argument("--tag-scheme", choices=["iob2", "iob1", "none"], default=None,
                   help="CoNLL tags: iob2 (BIO, default for ner), iob1 (converted to BIO), none (default for pos)")
    p.add_argument("--train-limit", type=int, default=None, metavar="N",
                   help="train on a seeded random sample of N training examples (quick runs)")
    p.add_argument("--dev-limit", type=int, default=None, metavar="N",
                   help="evaluate on a seeded random sample of N examples of each evaluation set")
    p.add_argument("--skip-bad-rows", action="store_true", help="drop malformed rows with a warning (QQP has a few)")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """--model, --tokenizer, lengths, bf16 and the QA decoding options."""
    p.add_argument("--model", required=True, help="model folder or Hugging Face hub id")
    p.add_argument("--tokenizer", default=None, help="tokenizer folder/file (default: the model folder's)")
    p.add_argument("--max-length", type=int, default=None,
                   help="tokens per input (default 128; QA 384; tagging 256)")
    p.add_argument("--eval-batch-size", type=int, default=64, help="inputs per evaluation batch (default 64)")
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                   help="bf16 autocast: auto uses it where the CPU has native bf16 (default auto)")
    qa = p.add_argument_group("question answering")
    qa.add_argument("--doc-stride", type=int, default=None,
                    help="context tokens shared by consecutive windows (default 128, at most a third of max length)")
    qa.add_argument("--n-best", type=int, default=20, help="candidate starts/ends per window (default 20)")
    qa.add_argument("--max-answer-length", type=int, default=30, help="longest answer in tokens (default 30)")
    qa.add_argument("--null-threshold", type=float, default=0.0,
                    help="SQuAD v2.0: answer \"\" when the null score beats the best span by more than this")


def add_training_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup, lr: float = 1e-4,
                           epochs: str = "3; grid 4", grid: bool = True, new_head: bool = True) -> None:
    """Hyper-parameters, evaluation/checkpoint cadence and (with `grid`) the grid; `lr` and `epochs` (the default's
    description) differ between commands that train on a task (finetune, glue, lengthdrop)."""
    p.add_argument("--epochs", type=float, default=None, help=f"passes over the training data (default {epochs})")
    p.add_argument("--max-steps", type=int, default=0, help="optimizer steps instead of epochs (0: use epochs)")
    p.add_argument("--batch-size", type=int, default=32, help="examples per optimizer step (default 32)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per step (default 1)")
    p.add_argument("--lr", type=float, default=lr, help=f"peak learning rate (default {lr:g})")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.1, help="warm-up: fraction of steps or a step count")
    p.add_argument("--eval-every", type=int, default=None, help="evaluate every N steps (default: each epoch)")
    p.add_argument("--save-every", type=int, default=500, help="resumable checkpoint every N steps (default 500)")
    p.add_argument("--select-metric", default=None,
                   help="metric that picks the best checkpoint (and grid run) (default: the task's main metric)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-length-grouping", action="store_true",
                   help="plain random batches instead of batches of similar lengths (more padding, slower)")
    if new_head:
        p.add_argument("--new-head", action="store_true",
                       help="replace a fine-tuned checkpoint's classifier (needed when its labels differ)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep checkpoint/ and best/ (and every grid run's weights) after success")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    if grid:
        g = p.add_argument_group("grid (BERT miniatures: batch {8,16,32,64,128} x lr {3e-4,1e-4,5e-5,3e-5}, 4 epochs)")
        g.add_argument("--grid", action="store_true", help="run every batch size x learning rate; keep the best on dev")
        g.add_argument("--grid-batch-sizes", default=",".join(map(str, BATCH_SIZES)), help="comma-separated")
        g.add_argument("--grid-lrs", default=",".join(f"{x:g}" for x in LEARNING_RATES), help="comma-separated")


def options_from_args(args: argparse.Namespace, out: Path | None = None, task: str | None = None,
                      data: list[str] | None = None) -> FinetuneOptions:
    """FinetuneOptions from parsed arguments (training options default where a command has none)."""
    get = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    columns = CustomColumns(args.text_column, args.text_pair_column, args.label_column, args.regression)
    return FinetuneOptions(
        model=args.model, task=task or args.task, data=data if data is not None else list(args.data or []),
        out=Path(out or get("out") or "."), tokenizer=args.tokenizer, columns=columns, epochs=get("epochs"),
        max_steps=get("max_steps", 0), batch_size=get("batch_size", 32), grad_accum=get("grad_accum", 1),
        lr=get("lr", 1e-4), weight_decay=get("weight_decay", 0.01), warmup=get("warmup", 0.1),
        max_length=args.max_length, eval_every=get("eval_every"), eval_batch_size=args.eval_batch_size,
        save_every=get("save_every", 500), select_metric=get("select_metric"), bf16=args.bf16, seed=get("seed", 0),
        train_limit=args.train_limit, dev_limit=args.dev_limit, tag_scheme=args.tag_scheme,
        doc_stride=args.doc_stride, n_best=args.n_best, max_answer_length=args.max_answer_length,
        null_threshold=args.null_threshold, group_by_length=not get("no_length_grouping", False),
        new_head=get("new_head", False), resume=get("resume", False),
        keep_checkpoints=get("keep_checkpoints", False), skip_bad_rows=args.skip_bad_rows,
        progress=not get("no_progress", False),
    )


def grid_lists(args: argparse.Namespace) -> tuple[list[int], list[float]]:
    """The grid's batch sizes and learning rates from --grid-batch-sizes and --grid-lrs."""
    return (parse_list(args.grid_batch_sizes, int, "--grid-batch-sizes"),
            parse_list(args.grid_lrs, float, "--grid-lrs"))
