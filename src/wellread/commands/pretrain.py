"""Pretrain a compact BERT with masked-LM (and optionally sentence-order prediction) on packed sequences.

The data is the output of `wellread corpus pack` (its `tokenizer/` and `len{L}/train|val` folders). Each
`--phase LENGTH:STEPS` trains on sequences of that maximum length with its own warm-up and decay, as the
two-phase BERT recipe does (e.g. 128 then 512); a later phase starts from the earlier one's weights.
Each phase writes resumable checkpoints; `--resume` continues a stopped run exactly (model, optimizer,
schedule, random state, data position) and skips finished phases. The output folder is a Hugging Face
model folder (config.json, model.safetensors, vocab.txt, tokenizer.json) that `transformers` loads.

Examples:
  wellread pretrain --data packed/ --model tiny --out bert-tiny --phase 128:5000
  wellread pretrain --data packed/ --model mini --out bert-mini --phase 128:9000 --phase 512:1000 \\
      --masking whole-word --sop --optimizer lamb --lr 2e-3 --batch-size 256 --grad-accum 8
  torchrun --nproc-per-node 2 -m wellread.cli pretrain --data packed/ --out bert-tiny   # DDP (gloo on CPU)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from wellread.train.loop import distributed
from wellread.train.pretrain import PretrainOptions, pretrain


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, type=Path, help="folder written by `wellread corpus pack`")
    p.add_argument("--out", required=True, type=Path, help="output model folder")
    p.add_argument("--model", default="tiny",
                   help="a preset (see `wellread models`; default tiny), a config.json, or a model folder to "
                        "continue from")
    p.add_argument("--phase", action="append", metavar="LENGTH:STEPS",
                   help="sequence length and optimizer steps; repeat for two-phase training (default 128:1000)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per optimizer step (default 32)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per step (default 1)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--warmup", type=float, default=0.06, help="warm-up: fraction of steps or a step count")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--optimizer", choices=["adamw", "lamb"], default="adamw")
    p.add_argument("--masking", choices=["wordpiece", "whole-word"], default="wordpiece")
    p.add_argument("--mask-rate", type=float, default=0.15)
    p.add_argument("--sop", action="store_true", help="add sentence-order prediction (swap segments half the time)")
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                   help="bf16 autocast: auto uses it where the CPU has native bf16 (default auto)")
    p.add_argument("--eval-every", type=int, default=500, help="validate every N steps (default 500)")
    p.add_argument("--eval-sequences", type=int, default=2000, help="validation sequences per evaluation")
    p.add_argument("--save-every", type=int, default=500, help="checkpoint every N steps (default 500)")
    p.add_argument("--no-length-grouping", action="store_true",
                   help="plain shuffled batches (default: batches of similar lengths, far less padding)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to log.jsonl)")


def run(args: argparse.Namespace) -> int:
    opts = PretrainOptions(**{f.name: getattr(args, f.name) for f in fields(PretrainOptions)})
    phases = pretrain(opts)
    if distributed()[0] == 0:
        last = phases[-1]["eval"]
        print(f"model written to {opts.out}" + (f": {json.dumps(last)}" if last else ""))
    return 0
