"""Distil a teacher into a smaller student: prediction-layer (soft targets) and TinyBERT layer distillation.

With a task (--task sst2, mrpc, sick-r, ner, squad, custom, ...) the teacher must be fine-tuned on it. Two stages
run in one command (--stage both; the default `auto` runs both when the models share a tokenizer):
  1. intermediate: the student's embedding output, hidden states (through a learned projection when the widths
     differ) and pre-softmax attention scores (padding excluded; a 12-head teacher's heads averaged in groups to
     the student's count) learn the teacher's, student layer m <- teacher layer m*N/M (or --layer-map);
     written to OUT/intermediate (projection beside it: distill_projection.safetensors, never in the weights);
  2. prediction: alpha * soft loss + (1 - alpha) * gold loss on the labelled set, the soft loss alone on the
     transfer set (--transfer, and --augment's new examples): soft cross-entropy at --temperature
     (classification), squared error (regression), per-token (tagging), start/end distributions (QA).
The teacher's outputs are computed once and cached in OUT/teacher_outputs when the data is seen more than once.

Tokenizers: layer losses compare token by token and need the same tokenizer; prediction-layer distillation of
classification and tagging does not (the teacher reads each example through its own tokenizer), so a student
with its own vocabulary can learn from any fine-tuned teacher with --stage prediction. To get a student with
the teacher's vocabulary, distil a preset from the pretrained teacher on raw text first (--task none, general
distillation: layer losses only, --data = a packed corpus or text files).

OUT is a Hugging Face model folder (plus results.json for a task) that `wellread finetune`, `evaluate` and a
next `wellread distill` (as student or teacher) read: distil MNLI first, then start each task from it.

Examples:
  wellread finetune --model $MINILM --task sst2 --data glue/SST-2 --out minilm-sst2        # the teacher
  wellread distill --teacher minilm-sst2 --student runs/tiny --task sst2 --data glue/SST-2 --out tiny-sst2 \\
      --stage prediction --epochs 3 --alpha 0.5 --temperature 2
  wellread distill --teacher $MINILM --student tiny --task none --data packed/ --out tiny-minilm-vocab \\
      --epochs 1 --lr 5e-4                                                   # general distillation
  wellread distill --teacher minilm-sst2 --student tiny-minilm-vocab --task sst2 --data glue/SST-2 \\
      --out tiny-sst2-tinybert --intermediate-epochs 10 --epochs 3          # both stages, uniform map 0,3,6
  wellread distill ... --layer-map 0,2,6 --layer-losses hidden,attention
  wellread distill ... --augment --augment-model runs/tiny --augment-n 20 --augment-max 200000
  wellread distill ... --transfer unlabelled_reviews.txt --alpha 0.7
  wellread distill --teacher minilm-mnli --student tiny --task mnli ... --out tiny-mnli         # chaining:
  wellread distill --teacher minilm-rte --student tiny-mnli --task rte ... --new-head --out tiny-rte
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wellread.distill.augment import AugmentOptions
from wellread.distill.general import distill_general
from wellread.distill.run import STAGES, DistillOptions, distill_task
from wellread.errors import WellreadError
from wellread.finetune.data import TASK_NAMES, CustomColumns
from wellread.finetune.run import FinetuneOptions

HELP = "distil a fine-tuned (or pretrained) teacher into a smaller student"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--teacher", required=True,
                   help="teacher model folder (fine-tuned on the task; pretrained for --task none)")
    p.add_argument("--student", required=True,
                   help="student model folder, or (with --task none) a preset / config.json built with the "
                        "teacher's vocabulary")
    p.add_argument("--task", required=True, help=f"none (general distillation) or {', '.join(TASK_NAMES)}")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR_OR_FILE",
                   help="the task's data folder or SPLIT=FILE items; --task none: a packed corpus or text files")
    p.add_argument("--out", type=Path, required=True, help="output folder (a Hugging Face model folder)")
    p.add_argument("--stage", choices=STAGES, default="auto",
                   help="auto (both when the tokenizers match, else prediction), both, intermediate, prediction")
    d = p.add_argument_group("distillation")
    d.add_argument("--alpha", type=float, default=0.5,
                   help="weight of the distillation loss; 1 - alpha weighs the gold loss (default 0.5)")
    d.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of the soft targets")
    d.add_argument("--transfer", nargs="+", default=[], metavar="FILE",
                   help="unlabelled transfer texts the teacher labels: .txt lines (TAB between a pair) or task files")
    d.add_argument("--layer-map", default=None,
                   help="student layer m (0 = embeddings) -> teacher layer, e.g. 0,3,6 (default uniform m*N/M)")
    d.add_argument("--layer-losses", default="embedding,hidden,attention", help="layer loss terms to use")
    d.add_argument("--intermediate-epochs", type=float, default=10.0, help="epochs of the intermediate stage")
    d.add_argument("--intermediate-steps", type=int, default=0, help="steps of the intermediate stage (0: epochs)")
    d.add_argument("--intermediate-lr", type=float, default=None, help="learning rate of the intermediate stage")
    d.add_argument("--cache-teacher", choices=["auto", "on", "off"], default="auto",
                   help="keep the teacher's outputs on disk (auto: when the data is seen more than once)")
    d.add_argument("--new-head", action="store_true",
                   help="give the student a new classifier (a chained student fine-tuned on other labels)")
    a = p.add_argument_group("augmentation (TinyBERT: masked-LM word replacement)")
    a.add_argument("--augment", action="store_true", help="add augmented examples to the transfer set")
    a.add_argument("--augment-model", default=None, help="a model folder with a masked-LM head (e.g. runs/tiny)")
    a.add_argument("--augment-n", type=int, default=20, help="new examples per example (default 20)")
    a.add_argument("--augment-max", type=int, default=100_000, help="cap on new examples in all (default 100000)")
    a.add_argument("--augment-prob", type=float, default=0.4, help="probability of replacing a word (default 0.4)")
    a.add_argument("--augment-candidates", type=int, default=15, help="masked-LM candidates per word (default 15)")
    t = p.add_argument_group("training (the prediction stage; --task none: the only stage)")
    t.add_argument("--epochs", type=float, default=None, help="passes over the training data (default 3)")
    t.add_argument("--max-steps", type=int, default=0, help="optimizer steps instead of epochs")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--grad-accum", type=int, default=1)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--warmup", type=float, default=0.1, help="fraction of steps or a step count")
    t.add_argument("--max-length", type=int, default=None, help="tokens per input (default 128; QA 384; NER 256)")
    t.add_argument("--doc-stride", type=int, default=None, help="QA: context tokens shared by windows")
    t.add_argument("--eval-every", type=int, default=None, help="evaluate every N steps (default: each epoch)")
    t.add_argument("--eval-batch-size", type=int, default=64)
    t.add_argument("--save-every", type=int, default=500, help="resumable checkpoint every N steps")
    t.add_argument("--bf16", choices=["auto", "on", "off"], default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--train-limit", type=int, default=None, metavar="N", help="a seeded sample of N training examples")
    t.add_argument("--dev-limit", type=int, default=None, metavar="N", help="a seeded sample of N evaluation examples")
    t.add_argument("--text-column", default="text", help="custom data: the text column")
    t.add_argument("--text-pair-column", default=None, help="custom data: the second text of a pair")
    t.add_argument("--label-column", default="label", help="custom data: the label column")
    t.add_argument("--regression", action="store_true", help="custom data: the label is a number")
    t.add_argument("--no-length-grouping", action="store_true", help="plain random batches")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run (a finished stage is kept)")
    t.add_argument("--keep-checkpoints", action="store_true", help="keep checkpoint/ and best/ after success")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")


def options_from_args(args: argparse.Namespace) -> DistillOptions:
    """DistillOptions from parsed arguments."""
    finetune = FinetuneOptions(
        model=args.student, task=args.task, data=list(args.data), out=args.out,
        columns=CustomColumns(args.text_column, args.text_pair_column, args.label_column, args.regression),
        epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size, grad_accum=args.grad_accum,
        lr=args.lr, weight_decay=args.weight_decay, warmup=args.warmup, max_length=args.max_length,
        eval_every=args.eval_every, eval_batch_size=args.eval_batch_size, save_every=args.save_every, bf16=args.bf16,
        seed=args.seed, train_limit=args.train_limit, dev_limit=args.dev_limit, doc_stride=args.doc_stride,
        group_by_length=not args.no_length_grouping, new_head=args.new_head, resume=args.resume,
        keep_checkpoints=args.keep_checkpoints, progress=not args.no_progress)
    augment = None
    if args.augment:
        if not args.augment_model:
            raise WellreadError("--augment needs --augment-model: a model folder with a masked-LM head")
        augment = AugmentOptions(args.augment_model, args.augment_n, args.augment_max, args.augment_prob,
                                 args.augment_candidates, seed=args.seed)
    return DistillOptions(
        teacher=args.teacher, finetune=finetune, stage=args.stage, transfer=list(args.transfer), alpha=args.alpha,
        temperature=args.temperature, layer_map=args.layer_map, layer_losses=args.layer_losses,
        intermediate_epochs=args.intermediate_epochs, intermediate_steps=args.intermediate_steps,
        intermediate_lr=args.intermediate_lr, cache_teacher=args.cache_teacher, augment=augment)


def run(args: argparse.Namespace) -> int:
    opts = options_from_args(args)
    if args.task.lower() == "none":
        distill_general(opts)
    else:
        distill_task(opts)
    return 0
