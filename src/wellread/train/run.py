"""The run harness: what every training job does around the one training loop, in one place.

Pretraining phases, fine-tuning runs, both distillation stages, general distillation and LengthDrop build their
model and their `Task`; a `Run` does the rest:

- the output folder (`Run(options)`): created; unless resuming, the files of an earlier run (log.jsonl,
  results.json, done.json, best/, checkpoint/) are removed; with `resume`, the run continues from
  checkpoint/trainer_state.pt when there is one, and a stage that marked itself finished (done.json) is not run
  again (`Run.done` holds what it recorded);
- threads, precision (bf16 autocast: auto, on or off) and the device (the CPU);
- the training loop (`Run.train`), timed. When it evaluates is `TrainArgs.eval_every`, with one meaning for every
  job: None (the default) once per epoch, 0 only at the end, N every N optimizer steps; always at the end too.
  An epoch is the Trainer's `steps_per_epoch` (complete batches only under DDP or with `drop_last`);
- the best evaluation (`Run.best`): the first one with the highest `select_metric`, the model kept as the output;
- the end (`Run.finish`): process 0 writes results.json (a job's own content) or done.json (the steps and the
  last evaluation: a finished stage), removes checkpoint/ and best/ unless `keep_checkpoints`, and prints the
  job's report; with DDP every other process waits for it at a barrier and returns what it wrote.

A job reads:

    run = Run(RunOptions(out, resume=opts.resume, keep_checkpoints=opts.keep_checkpoints, bf16=opts.bf16))
    model, task = ...                                     # the job's own
    run.train(model, task, run.args(epochs=3, lr=1e-4, select_metric="accuracy"), describe=lambda t: "...")
    return run.finish(lambda: {"metrics": ..., "best_step": run.best_step()}, report=print_report)
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from wellread.errors import WellreadError
from wellread.hardware import bf16_supported
from wellread.train.loop import Task, TrainArgs, Trainer, distributed

RESULTS = "results.json"
DONE = "done.json"
STALE = ("log.jsonl", RESULTS, DONE, "best", "checkpoint")
"""What an earlier run left in the output folder, removed unless the run resumes."""
DEVICES = ("cpu",)


@dataclass
class RunOptions:
    """How a training job runs, whatever it trains."""

    out: Path
    resume: bool = False
    """Continue from out/checkpoint when there is one; a stage with out/done.json is not run again."""
    keep_checkpoints: bool = False
    """Keep checkpoint/ and best/ after success."""
    bf16: str = "auto"
    """bf16 autocast: auto (where the CPU has native bf16 instructions), on or off."""
    threads: int = 0
    """CPU threads for torch (0: torch's choice)."""
    device: str = "cpu"


def bf16_enabled(choice: str) -> bool:
    """--bf16 auto|on|off: auto uses bf16 autocast where the CPU has native bf16 instructions."""
    if choice not in ("auto", "on", "off"):
        raise WellreadError(f"--bf16 must be auto, on or off, not {choice!r}")
    return choice == "on" or (choice == "auto" and bf16_supported())


class Run:
    """One training job in its output folder (see the module docstring)."""

    def __init__(self, options: RunOptions) -> None:
        if options.device not in DEVICES:
            raise WellreadError(f"device {options.device!r}: wellread trains on {', '.join(DEVICES)}")
        self.options, self.out = options, Path(options.out)
        self.rank, self.world = distributed()
        if options.threads:
            torch.set_num_threads(options.threads)
        self.bf16 = bf16_enabled(options.bf16)
        done = self.out / DONE
        self.done: dict[str, Any] | None = (json.loads(done.read_text(encoding="utf-8"))
                                            if options.resume and done.is_file() else None)
        """What a finished stage recorded (done.json) when resuming it; None when the stage is to run."""
        self.resuming = (self.done is None and options.resume
                         and (self.out / "checkpoint" / "trainer_state.pt").is_file())
        if self.done is None and not self.resuming and self.rank == 0:
            _remove(self.out, STALE)
        self.out.mkdir(parents=True, exist_ok=True)
        self._trainer: Trainer | None = None
        self.last_eval: dict[str, float] = {}
        self.seconds = 0.0

    @property
    def trainer(self) -> Trainer:
        """The Trainer of `train` (total_steps, history, world)."""
        if self._trainer is None:
            raise RuntimeError("Run.train has not run")
        return self._trainer

    def args(self, **fields: Any) -> TrainArgs:
        """The loop's options for this run: its output folder, precision and device, and `fields`."""
        return TrainArgs(output_dir=self.out, bf16=self.bf16, device=self.options.device, **fields)

    def train(self, model: nn.Module, task: Task, args: TrainArgs,
              describe: Callable[[Trainer], str] | None = None) -> Trainer:
        """Train (continuing the checkpoint when resuming) and save the output; process 0 prints `describe`
        first. The last evaluation is `last_eval`, the training time `seconds`."""
        trainer = self._trainer = Trainer(model, task, args)
        if describe is not None and self.rank == 0:
            print(describe(trainer), flush=True)
        start = time.perf_counter()
        self.last_eval = trainer.fit(resume=self.resuming)
        self.seconds = time.perf_counter() - start
        return trainer

    def best(self) -> dict[str, Any] | None:
        """The evaluation (a history record, with its step) of the model kept as the output: the first with the
        highest `select_metric`; None without a select metric."""
        trainer, metric = self.trainer, self.trainer.args.select_metric
        if metric is None:
            return None
        return next((r for r in trainer.history if r.get(metric) == trainer.best), None)

    def best_step(self) -> int | None:
        """The step of `best()`."""
        best = self.best()
        return best["step"] if best is not None else None

    def finish(self, results: Callable[[], dict[str, Any]] | None = None,
               report: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Close the run: process 0 writes results.json with `results()` (without `results`: done.json with the
        steps and the last evaluation, which marks the stage finished), removes checkpoint/ and best/ unless
        `keep_checkpoints`, and calls `report` on what it wrote; every other process waits for it at a barrier
        and returns what it wrote."""
        path = self.out / (RESULTS if results is not None else DONE)
        if self.rank == 0:
            content = results() if results is not None else {"steps": self.trainer.total_steps,
                                                             "eval": self.last_eval}
            path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
            if not self.options.keep_checkpoints:
                _remove(self.out, ("best", "checkpoint"))
            if report is not None:
                report(content)
        if dist.is_initialized():
            dist.barrier()
        if self.rank != 0:
            content = json.loads(path.read_text(encoding="utf-8"))
        return content


def _remove(folder: Path, names: tuple[str, ...]) -> None:
    for name in names:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
