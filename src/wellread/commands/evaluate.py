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
from pathlib import Path

from wellread.finetune.evaluate import evaluate
from wellread.finetune.options import add_data_arguments, add_model_arguments, options_from_args

HELP = "evaluate a fine-tuned model on a task's dev/test data (metrics beside the majority baseline)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_data_arguments(p)
    p.add_argument("--split", choices=["dev", "test"], default="dev", help="the split to evaluate (default dev)")
    p.add_argument("--output", type=Path, default=None, help="write the results as JSON to this file")
    p.add_argument("--predictions", type=Path, default=None,
                   help="QA: write the predictions (official SQuAD format) to this file")


def run(args: argparse.Namespace) -> int:
    evaluate(options_from_args(args), args.split, args.output, args.predictions)
    return 0
