"""Continue training a fine-tuned model with LengthDrop so that it works at any sequence length per layer.

Length-Adaptive Transformer training (Kim & Cho 2021): every step trains the full model on the task's loss and,
with in-place distillation from the full model's outputs, the smallest sub-model (each layer keeps exactly
1 - p of the previous layer's tokens) and --sub-models random ones (each layer keeps between 1 - p and all of
them); the losses are averaged (the sandwich rule). Layers keep the tokens that receive the most attention;
[CLS] is always kept; for QA and tagging, dropped tokens are restored at the last layer so every position gets
an output. --layerdrop P also skips each layer of the random sub-models with probability P (LayerDrop, Fan et
al. 2020), so that `wellread search --skip-layers` can drop whole layers: what speeds up batch 1 on short inputs.
--smallest-skip I [I ...] makes the smallest sub-model skip those layers too: a second LengthDrop run with the
best skip set the search found trains that sub-network every step.

Start from a model fine-tuned on the same task. OUT is a Hugging Face model folder with results.json (the full
model's dev metrics and the smallest sub-model's, prefixed smallest_). Then run `wellread search` on OUT to
pick the fastest length configuration within a metric budget.

Examples:
  wellread lengthdrop --model sst2-mini --task sst2 --data glue/SST-2 --out sst2-mini-ld
  wellread lengthdrop --model qa-mini --task squad --data train=train.json dev=dev.json --out qa-mini-ld \\
      --epochs 2 --length-drop-prob 0.2 --sub-models 2
  wellread lengthdrop --model ner-mini --task ner --data conll2003/ --out ner-mini-ld --layerdrop 0.1
  wellread lengthdrop --model sst2-mini-ld --task sst2 --data glue/SST-2 --out sst2-mini-ld2 --layerdrop 0.5 \\
      --smallest-skip 0 2
"""

from __future__ import annotations

import argparse

from wellread.dynamic.run import lengthdrop
from wellread.dynamic.train import LengthDropOptions
from wellread.errors import WellreadError
from wellread.finetune.options import (
    add_data_arguments,
    add_model_arguments,
    add_training_arguments,
    options_from_args,
)
from wellread.models.length import MIN_TOKENS


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_data_arguments(p)
    p.add_argument("--out", required=True, help="output folder (a Hugging Face model folder plus results.json)")
    add_training_arguments(p.add_argument_group("training"), lr=5e-5, epochs="1", grid=False, new_head=False)
    d = p.add_argument_group("LengthDrop")
    d.add_argument("--length-drop-prob", type=float, default=0.2, metavar="P",
                   help="each layer keeps between 1-P and all of the previous layer's tokens (default 0.2, as "
                        "the Length-Adaptive Transformer; 0.3 trained the sub-models that reached 2x on SST-2 "
                        "in docs/results.md)")
    d.add_argument("--sub-models", type=int, default=2,
                   help="random sub-models per step, besides the full and the smallest (default 2)")
    d.add_argument("--layerdrop", type=float, default=0.0, metavar="P",
                   help="random sub-models skip each layer with probability P (default 0: off)")
    d.add_argument("--smallest-skip", type=int, nargs="+", default=[], metavar="I",
                   help="layers (from 0) the smallest sub-model skips as well as dropping tokens (default: none)")
    d.add_argument("--min-tokens", type=int, default=MIN_TOKENS,
                   help=f"no layer keeps fewer tokens than this (default {MIN_TOKENS})")


def run(args: argparse.Namespace) -> int:
    if not args.data:
        raise WellreadError("--data is required: a data folder or SPLIT=FILE items (with a train split)")
    drop = LengthDropOptions(args.length_drop_prob, args.sub_models, args.layerdrop, args.min_tokens,
                             tuple(args.smallest_skip))
    lengthdrop(options_from_args(args), drop)
    return 0
