"""Fine-tune a model on a GLUE/SICK task, SQuAD-style QA, CoNLL tagging or your own CSV/TSV/JSONL data.

Training runs on the one training loop: batches of similar lengths padded only to their longest member,
warm-up and linear decay, optional bf16 autocast, evaluation every epoch (or --eval-every N steps) and at
the end, and the best checkpoint on the task's main metric kept as the output. OUT is a Hugging Face model
folder (config.json with id2label/label2id and problem_type, model.safetensors, tokenizer files) that
`transformers.AutoModelFor...` loads, plus results.json (metrics beside the majority-class baseline, a
warning when the model predicts a single class), log.jsonl, and for QA predictions.json.

Tasks: cola sst2 mrpc stsb qqp mnli qnli rte wnli (GLUE TSV folders), sick-r sick-e (SICK folder), squad /
squad2 (SQuAD JSON), ner / pos (CoNLL files), custom (--text-column, --text-pair-column, --label-column,
--regression). --data is a folder (the usual file names are looked up) or SPLIT=FILE items.

Examples:
  wellread finetune --model bert-mini --task sst2 --data glue/SST-2 --out sst2-mini
  wellread finetune --model bert-mini --task mnli --data glue_data --out mnli-mini --epochs 3 --lr 1e-4
  wellread finetune --model bert-mini --task rte --data glue/RTE --out rte-grid --grid          # 20 runs, best kept
  wellread finetune --model bert-mini --task mrpc --data glue/MRPC --out mrpc --grid \\
      --grid-batch-sizes 16,32 --grid-lrs 1e-4,5e-5 --epochs 3                                 # rerun to resume
  wellread finetune --model bert-mini --task squad --data train=train-v1.1.json dev=dev-v1.1.json --out qa
  wellread finetune --model bert-mini --task ner --data conll2003/ --out ner-mini
  wellread finetune --model bert-mini --task custom --data train=reviews.csv dev=held_out.csv \\
      --text-column review --label-column stars --out reviews-mini
  wellread finetune --model bert-mini --task sst2 --data glue/SST-2 --out quick --train-limit 2000 --epochs 1
  torchrun --nproc-per-node 2 -m wellread.cli finetune --model bert-mini --task sst2 --data glue/SST-2 \
      --out sst2-ddp          # DDP: --batch-size is the global batch, split over the processes
"""

from __future__ import annotations

import argparse

from wellread.errors import WellreadError
from wellread.finetune.grid import run_grid
from wellread.finetune.options import (
    add_data_arguments,
    add_model_arguments,
    add_training_arguments,
    grid_lists,
    options_from_args,
)
from wellread.finetune.run import finetune

HELP = "fine-tune on GLUE/SICK, SQuAD, CoNLL or your own data (optionally a batch-size x lr grid)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_data_arguments(p)
    p.add_argument("--out", required=True, help="output folder (a Hugging Face model folder plus results)")
    add_training_arguments(p)


def run(args: argparse.Namespace) -> int:
    if not args.data:
        raise WellreadError("--data is required: a data folder or SPLIT=FILE items")
    opts = options_from_args(args)
    if args.grid:
        batch_sizes, lrs = grid_lists(args)
        run_grid(opts, batch_sizes, lrs)
    else:
        finetune(opts)
    return 0
