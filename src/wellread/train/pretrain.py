"""Masked-LM pretraining in phases: what `wellread pretrain` and a recipe's pretrain stage run.

Each phase (LENGTH:STEPS) trains on the packed sequences of that maximum length (`len{L}/train`, validated on
`len{L}/val` when packed) with its own warm-up and decay, into `OUT/phase{k}-len{L}` with resumable
checkpoints, and marks itself finished with done.json; a later phase starts from the earlier one's weights, and
with `resume` a finished phase is skipped (its model loaded). OUT gets the final model in the Hugging Face layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wellread.config import ALIASES, PRESETS, load_config, preset
from wellread.corpus.pack import PackedSequences
from wellread.errors import WellreadError
from wellread.models import build_model
from wellread.models.checkpoint import load_model, save_model
from wellread.tokenizer import Tokenizer
from wellread.train.loop import distributed
from wellread.train.pretraining import MaskingOptions, PretrainingTask
from wellread.train.run import Run, RunOptions


@dataclass
class PretrainOptions:
    """Everything a pretraining run needs (the `wellread pretrain` options, under their names)."""

    data: Path
    """A folder written by `wellread corpus pack`."""
    out: Path
    model: str = "tiny"
    """A preset, a config.json, or a model folder to continue from."""
    phase: list[str] | None = None
    """LENGTH:STEPS items, one per phase (default 128:1000)."""
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-3
    warmup: float = 0.06
    weight_decay: float = 0.01
    optimizer: str = "adamw"
    masking: str = "wordpiece"
    """wordpiece or whole-word."""
    mask_rate: float = 0.15
    sop: bool = False
    """Add sentence-order prediction."""
    bf16: str = "auto"
    eval_every: int = 500
    eval_sequences: int = 2000
    save_every: int = 500
    no_length_grouping: bool = False
    threads: int = 0
    seed: int = 0
    resume: bool = False
    no_progress: bool = False


def parse_phases(specs: list[str] | None) -> list[tuple[int, int]]:
    """(length, steps) of each LENGTH:STEPS item (default one phase, 128:1000)."""
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


def pretrain(opts: PretrainOptions) -> list[dict[str, Any]]:
    """Train every phase (see the module docstring) and save the model into `opts.out`; returns each phase's
    done.json content: its steps and last evaluation."""
    phases = parse_phases(opts.phase)
    tokenizer = Tokenizer.load(Path(opts.data) / "tokenizer")
    model = initial_model(opts.model, tokenizer, max(length for length, _ in phases))
    tokenizer.check_compatible(model.config)
    finished = []
    for k, (length, steps) in enumerate(phases, 1):
        run = Run(RunOptions(Path(opts.out) / f"phase{k}-len{length}", opts.resume, keep_checkpoints=True,
                             bf16=opts.bf16, threads=opts.threads, job=opts))
        if run.done is not None:
            model, _ = load_model(run.out, "pretraining")
            print(f"phase {k} (length {length}) already complete: {run.out}")
            finished.append(run.done)
        else:
            finished.append(train_phase(run, model, tokenizer, opts, k, length, steps))
    if distributed()[0] == 0:
        save_model(model, opts.out, tokenizer)
    return finished


def train_phase(run: Run, model: torch.nn.Module, tokenizer: Tokenizer, opts: PretrainOptions, k: int, length: int,
                steps: int) -> dict[str, Any]:
    """Phase `k`: `steps` steps on the sequences of at most `length` tokens; returns its done.json content."""
    split = Path(opts.data) / f"len{length}"
    val = PackedSequences(split / "val") if (split / "val" / "index.json").is_file() else None
    masking = MaskingOptions(rate=opts.mask_rate, whole_word=opts.masking == "whole-word", sentence_order=opts.sop)
    task = PretrainingTask(PackedSequences(split / "train"), val, tokenizer, masking, opts.eval_sequences,
                           group_by_length=0 if opts.no_length_grouping else opts.batch_size)
    args = run.args(max_steps=steps, batch_size=opts.batch_size, grad_accum=opts.grad_accum, lr=opts.lr,
                    weight_decay=opts.weight_decay, warmup=opts.warmup, optimizer=opts.optimizer,
                    seed=opts.seed + k, eval_every=opts.eval_every, save_every=opts.save_every, drop_last=True,
                    progress=not opts.no_progress, metrics_in_postfix=("mlm_acc", "tokens_per_s"),
                    extra={"data": str(opts.data), "phase": k, "length": length})
    run.train(model, task, args, lambda t: f"phase {k}: length {length}, {steps} steps, {len(task.train)} training "
                                           f"sequences, batch {opts.batch_size}, bf16 {'on' if run.bf16 else 'off'}")
    return run.finish()
