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
from wellread.options import option, positive
from wellread.tokenizer import Tokenizer
from wellread.train.folder import claim, start_afresh, writer_of
from wellread.train.loop import distributed
from wellread.train.pretraining import MaskingOptions, PretrainingTask
from wellread.train.run import OverwriteOptions, Run, RunOptions

BATCHES = "batches and schedule"
CHECKS = "evaluation and checkpoints"


@dataclass(kw_only=True)
class PretrainOptions(OverwriteOptions):
    """Options of `wellread pretrain` and of a recipe's pretrain stage (which takes `data` from the pack stage)."""

    data: str | None = option(None, cli_required=True,
                              help="folder written by `wellread corpus pack` (a recipe: default the previous "
                                   "stage's packed sequences)")
    out: Path | None = option(None, cli_required=True, help="output model folder")
    model: str = option("tiny", help="a preset (see `wellread models`), a config.json, or a model folder to "
                                     "continue from")
    phases: list[str] = option(["128:1000"], flag="--phase", append=True, metavar="LENGTH:STEPS",
                               help="sequence length and optimizer steps; repeat for two-phase training")
    batch_size: int = option(32, group=BATCHES, help="sequences per optimizer step")
    grad_accum: int = option(1, group=BATCHES, help="micro-batches per step")
    lr: float = option(1e-3, group=BATCHES, help="peak learning rate")
    warmup: float = option(0.06, group=BATCHES, help="warm-up: fraction of steps or a step count")
    weight_decay: float = option(0.01, group=BATCHES, help="decoupled weight decay (not on biases and LayerNorm)")
    optimizer: str = option("adamw", group=BATCHES, choices=("adamw", "lamb"),
                            help="lamb: layer-wise adaptive steps, for large batches")
    length_grouping: bool = option(True, flag="--no-length-grouping", group=BATCHES,
                                   help="plain shuffled batches (default: batches of similar lengths, far less "
                                        "padding)")
    masking: str = option("wordpiece", choices=("wordpiece", "whole-word"),
                          help="wordpiece: each piece on its own; whole-word: all pieces of a word together")
    mask_rate: float = option(0.15, help="share of tokens masked")
    sop: bool = option(False, help="add sentence-order prediction (swap segments half the time)")
    bf16: str = option("auto", choices=("auto", "on", "off"),
                       help="bf16 autocast: auto uses it where the CPU has native bf16")
    eval_every: int = option(500, group=CHECKS, help="validate every N steps; 0: only at the end of each phase")
    eval_sequences: int = option(2000, group=CHECKS, help="validation sequences per evaluation")
    save_every: int = option(500, group=CHECKS, help="checkpoint every N steps; 0: only at the end of each phase")
    threads: int = option(0, help="CPU threads for torch (default: torch's choice)")
    seed: int = option(0, help="random seed; phase k uses seed + k")
    resume: bool = option(False, help="continue from the checkpoints in --out")
    progress: bool = option(True, help="no progress bar (logs still go to log.jsonl)")

    def check(self) -> list[tuple[str, str]]:
        """(field, problem) pairs: malformed phases, non-positive sizes, negative cadences."""
        problems = [("phases", problem) for problem in phase_problems(self.phases)]
        problems += positive(self, "batch_size", "grad_accum", "lr", "eval_sequences")
        return problems + [(n, f"must be >= 0, got {getattr(self, n)}") for n in ("eval_every", "save_every", "threads")
                           if getattr(self, n) < 0]


def phase_problems(specs: list[str]) -> list[str]:
    """What is wrong with each LENGTH:STEPS item (nothing for good ones)."""
    problems = []
    for spec in specs:
        try:
            parse_phases([spec])
        except WellreadError as err:
            problems.append(str(err).removeprefix("--phase "))
    return problems


def parse_phases(specs: list[str]) -> list[tuple[int, int]]:
    """(length, steps) of each LENGTH:STEPS item."""
    phases = []
    for spec in specs:
        try:
            length, steps = (int(x) for x in spec.split(":"))
        except ValueError:
            raise WellreadError(f"--phase {spec!r}: expected LENGTH:STEPS, e.g. 128:1000") from None
        if length < 8 or steps < 1:
            raise WellreadError(f"--phase {spec!r}: length must be >= 8 and steps >= 1")
        phases.append((length, steps))
    return phases


def initial_model(name: str, tokenizer: Tokenizer, max_length: int, seed: int = 0) -> torch.nn.Module:
    """A fresh model from a preset name or a config.json file (its weights drawn with `seed`), or a model folder
    to continue from.

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
    torch.manual_seed(seed)  # the same --seed gives the same initial weights (and so the same run)
    return build_model(config, "pretraining")


def pretrain(opts: PretrainOptions) -> list[dict[str, Any]]:
    """Train every phase (see the module docstring) and save the model into `opts.out`; returns each phase's
    done.json content: its steps and last evaluation."""
    phases = parse_phases(opts.phases)
    tokenizer = Tokenizer.load(Path(opts.data) / "tokenizer")
    model = initial_model(opts.model, tokenizer, max(length for length, _ in phases), opts.seed)
    tokenizer.check_compatible(model.config)
    if not opts.resume:  # --out: empty, an earlier run of this job, or --overwrite (its phase folders: by Run)
        claim(Path(opts.out), writer_of(opts), opts.overwrite)
        if distributed()[0] == 0:
            start_afresh(Path(opts.out), writer_of(opts))
    finished = []
    for k, (length, steps) in enumerate(phases, 1):
        run = Run(RunOptions(Path(opts.out) / f"phase{k}-len{length}", opts.resume, keep_checkpoints=True,
                             bf16=opts.bf16, threads=opts.threads, overwrite=opts.overwrite, job=opts))
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
                           group_by_length=opts.batch_size if opts.length_grouping else 0)
    args = run.args(max_steps=steps, batch_size=opts.batch_size, grad_accum=opts.grad_accum, lr=opts.lr,
                    weight_decay=opts.weight_decay, warmup=opts.warmup, optimizer=opts.optimizer,
                    seed=opts.seed + k, eval_every=opts.eval_every, save_every=opts.save_every, drop_last=True,
                    progress=opts.progress, metrics_in_postfix=("mlm_acc", "tokens_per_s"),
                    extra={"data": str(opts.data), "phase": k, "length": length})
    run.train(model, task, args, lambda t: f"phase {k}: length {length}, {steps} steps, {len(task.train)} training "
                                           f"sequences, batch {opts.batch_size}, bf16 {'on' if run.bf16 else 'off'}")
    return run.finish()
