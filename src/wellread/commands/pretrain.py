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
from pathlib import Path

import torch

from wellread.config import ALIASES, PRESETS, load_config, preset
from wellread.corpus.pack import PackedSequences
from wellread.errors import WellreadError
from wellread.models import build_model
from wellread.models.checkpoint import load_model, save_model
from wellread.tokenizer import Tokenizer
from wellread.train.loop import TrainArgs, Trainer, bf16_supported, distributed
from wellread.train.pretraining import MaskingOptions, PretrainingTask


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


def parse_phases(specs: list[str] | None) -> list[tuple[int, int]]:
    phases = []
    for spec in specs or ["128:1000"]:
        try:
            length, steps = (int(x) for x in spec.split(":"))
        except ValueError:
            raise WellreadError(f"--phase {spec!r}: expected LENGTH:STEPS, e.g. 128:1000") from None
        if length < 8 or steps < 1:
            raise WellreadError(f"--phase {spec!r}: length must be >= 8 and steps >= 1")
        phases.append((length, steps))
    return phases


def initial_model(name: str, tokenizer: Tokenizer, max_length: int) -> torch.nn.Module:
    """A fresh model from a preset name or a config.json file, or a model folder to continue from.

    Preset names win over folders of the same name (write `./tiny` for a folder called tiny).
    """
    if name not in PRESETS and name not in ALIASES and Path(name).is_dir():
        model, report = load_model(name, "pretraining")
        for line in report.lines():
            print(line)
        return model
    base = load_config(name) if name.endswith(".json") else preset(name)
    config = base.replace(vocab_size=tokenizer.vocab_size, pad_token_id=tokenizer.pad_token_id,
                                  max_position_embeddings=max(512, max_length))
    return build_model(config, "pretraining")


def run(args: argparse.Namespace) -> int:
    phases = parse_phases(args.phase)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = Tokenizer.load(args.data / "tokenizer")
    model = initial_model(args.model, tokenizer, max(length for length, _ in phases))
    tokenizer.check_compatible(model.config)
    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and bf16_supported())
    rank, _ = distributed()
    options = MaskingOptions(rate=args.mask_rate, whole_word=args.masking == "whole-word", sentence_order=args.sop)
    result: dict[str, float] = {}
    for k, (length, steps) in enumerate(phases, 1):
        phase_dir = args.out / f"phase{k}-len{length}"
        if (phase_dir / "done.json").is_file() and args.resume:
            model, _ = load_model(phase_dir, "pretraining")
            print(f"phase {k} (length {length}) already complete: {phase_dir}")
            continue
        split = args.data / f"len{length}"
        val = PackedSequences(split / "val") if (split / "val" / "index.json").is_file() else None
        task = PretrainingTask(PackedSequences(split / "train"), val, tokenizer, options, args.eval_sequences,
                               group_by_length=0 if args.no_length_grouping else args.batch_size)
        train_args = TrainArgs(
            output_dir=phase_dir, max_steps=steps, batch_size=args.batch_size, grad_accum=args.grad_accum,
            lr=args.lr, weight_decay=args.weight_decay, warmup=args.warmup, optimizer=args.optimizer, bf16=bf16,
            seed=args.seed + k, eval_every=args.eval_every, save_every=args.save_every, drop_last=True,
            progress=not args.no_progress, metrics_in_postfix=("mlm_acc", "tokens_per_s"),
            extra={"data": str(args.data), "phase": k, "length": length})
        if rank == 0:
            print(f"phase {k}: length {length}, {steps} steps, {len(task.train)} training sequences, "
                  f"batch {args.batch_size}, bf16 {'on' if bf16 else 'off'}")
        result = Trainer(model, task, train_args).fit(resume=args.resume)
        if rank == 0:
            (phase_dir / "done.json").write_text(json.dumps({"steps": steps, "eval": result}, indent=2) + "\n")
    if rank == 0:
        save_model(model, args.out, tokenizer)
        print(f"model written to {args.out}" + (f": {json.dumps(result)}" if result else ""))
    return 0
