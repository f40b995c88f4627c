"""The run harness: what every training job does around the one training loop, in one place.

Pretraining phases, fine-tuning runs, both distillation stages, general distillation and LengthDrop build their
model and their `Task`; a `Run` does the rest:

- the output folder (`Run(options)`): created; a folder holding another job's, task's or base model's output
  (written_by.json records what wrote it) is refused unless `overwrite` (train/folder.py); unless resuming, what
  an earlier run left (its log, results, checkpoints and model files) is removed; with `resume`, the run continues
  from checkpoint/ when there is one (its state in JSON + safetensors, train/state.py: nothing unpickled), and a
  stage that marked itself finished (done.json) is not run again (`Run.done` holds what it recorded);
- resume checks: the job's options (`RunOptions.job`, stored with each checkpoint) and the loop's must equal the
  checkpoint's, except `MAY_CHANGE` (threads, progress, evaluation and save cadence, evaluation batch size),
  which apply from the resume on and are listed in results.json under "resumed";
- threads, precision (bf16 autocast: auto, on or off) and the device (the CPU);
- the training loop (`Run.train`), timed. When it evaluates is `TrainArgs.eval_every`, with one meaning for every
  job: None (the default) once per epoch, 0 only at the end, N every N optimizer steps; always at the end too.
  An epoch is the Trainer's `steps_per_epoch` (complete batches only under DDP or with `drop_last`);
- the best evaluation (`Run.best`): the first one with the highest `select_metric`, the model kept as the output;
- the end (`Run.finish`): process 0 writes results.json (a job's own content) or done.json (the steps and the
  last evaluation: a finished stage), each replacing an old one only once complete, removes checkpoint/ and
  best/ unless `keep_checkpoints`, and prints the job's report; with DDP every other process waits for it at a
  barrier and returns what it wrote.

A job reads:

    run = Run(RunOptions(out, resume=opts.resume, keep_checkpoints=opts.keep_checkpoints, bf16=opts.bf16,
                         overwrite=opts.overwrite, job=opts))
    model, task = ...                                     # the job's own
    run.train(model, task, run.args(epochs=3, lr=1e-4, select_metric="accuracy"), describe=lambda t: "...")
    return run.finish(lambda: {"metrics": ..., "best_step": run.best_step()}, report=print_report)
"""

from __future__ import annotations

import dataclasses
import json
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
from wellread.options import flag_of, option
from wellread.train.folder import DONE, RESULTS, claim, options_json, remove, start_afresh, write_json, writer_of
from wellread.train.loop import Task, TrainArgs, Trainer, distributed
from wellread.train.state import has_state, read_json_state

DEVICES = ("cpu",)
MAY_CHANGE = frozenset({"out", "resume", "overwrite", "keep_checkpoints", "threads", "progress", "no_progress",
                        "quiet", "eval_every", "save_every", "eval_batch_size"})
"""Job options a `--resume` may change (they do not change what is trained): applied, and listed in results.json
under "resumed" (but for `INVOCATION`). Any other difference from the checkpoint's options refuses the resume."""
INVOCATION = frozenset({"out", "resume", "overwrite"})
"""How one invocation meets its folder, not how the run runs: never listed as a change."""
ARGS_MAY_CHANGE = frozenset({"output_dir", "log_every", "eval_every", "save_every", "progress", "metrics_in_postfix",
                             "extra", "job", "device"})
"""The loop's options (TrainArgs) a resume may change: the cadences and the record; the job's options (`job`)
are compared on their own."""


@dataclass(kw_only=True)
class OverwriteOptions:
    """The output folder's one shared option (every training job's options include this group)."""

    overwrite: bool = option(False, help="replace a different model or run in --out (another command, task or "
                                         "base model wrote it)")


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
    overwrite: bool = False
    """Replace a different model or run in `out` (one that another job, task or base model wrote)."""
    job: Any = None
    """The job's options dataclass: what wrote the folder (written_by.json) and what a resume must match."""


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
        self.bf16 = bf16_enabled(options.bf16)
        self.job = options_json(options.job) if options.job is not None else {}
        done = self.out / DONE
        self.done: dict[str, Any] | None = (json.loads(done.read_text(encoding="utf-8"))
                                            if options.resume and done.is_file() else None)
        """What a finished stage recorded (done.json) when resuming it; None when the stage is to run."""
        self.resuming = self.done is None and options.resume and has_state(self.out / "checkpoint")
        self.changed: dict[str, dict[str, Any]] = {}
        """Options a resume changed that may change (`MAY_CHANGE`): name -> {"checkpoint": ..., "now": ...}."""
        self.resumed_at: int | None = None
        writer = writer_of(options.job)
        if self.done is None and not self.resuming:
            claim(self.out, writer, options.overwrite)
            if self.rank == 0:
                start_afresh(self.out, writer)
        elif self.resuming:
            self._compare_job(read_json_state(self.out / "checkpoint"))
        if options.threads:
            torch.set_num_threads(options.threads)
        self.out.mkdir(parents=True, exist_ok=True)
        self._trainer: Trainer | None = None
        self.last_eval: dict[str, float] = {}
        self.seconds = 0.0

    def _compare_job(self, state: dict[str, Any]) -> None:
        """Refuse a resume whose job options differ from the checkpoint's, except those that may change."""
        self.resumed_at = state.get("step")
        before = state.get("args", {}).get("job") or {}
        if not self.job or not before:
            return
        names = [n for n in dict.fromkeys([*before, *self.job]) if before.get(n) != self.job.get(n)]
        self.changed = {n: {"checkpoint": before.get(n), "now": self.job.get(n)} for n in names
                        if n in MAY_CHANGE and n not in INVOCATION}
        refused = [n for n in names if n not in MAY_CHANGE]
        if refused:
            flags = {f.name: flag_of(f) for f in dataclasses.fields(self.options.job)}
            listed = "; ".join(f"{flags.get(n, n)} {before.get(n)!r} in the checkpoint, {self.job.get(n)!r} now"
                               for n in refused)
            raise WellreadError(f"--resume: {self.out / 'checkpoint'} was written with other options ({listed}): "
                                "resume with the checkpoint's options, or start again without --resume")

    @property
    def trainer(self) -> Trainer:
        """The Trainer of `train` (total_steps, history, world)."""
        if self._trainer is None:
            raise RuntimeError("Run.train has not run")
        return self._trainer

    def args(self, **fields: Any) -> TrainArgs:
        """The loop's options for this run: its output folder, precision and device, the job's options (stored
        with each checkpoint), and `fields`."""
        return TrainArgs(output_dir=self.out, bf16=self.bf16, device=self.options.device, job=self.job, **fields)

    def train(self, model: nn.Module, task: Task, args: TrainArgs,
              describe: Callable[[Trainer], str] | None = None) -> Trainer:
        """Train (continuing the checkpoint when resuming) and save the output; process 0 prints `describe`
        first. The last evaluation is `last_eval`, the training time `seconds`."""
        if self.resuming:
            self._compare_args(read_json_state(self.out / "checkpoint").get("args", {}), args)
        trainer = self._trainer = Trainer(model, task, args)
        if describe is not None and self.rank == 0:
            print(describe(trainer), flush=True)
        start = time.perf_counter()
        self.last_eval = trainer.fit(resume=self.resuming)
        self.seconds = time.perf_counter() - start
        return trainer

    def _compare_args(self, before: dict[str, Any], args: TrainArgs) -> None:
        """Refuse a resume whose loop options (learning rate, batch, seed, ...) differ from the checkpoint's."""
        now = json.loads(json.dumps(dataclasses.asdict(args), default=str))
        refused = [n for n in now if n not in ARGS_MAY_CHANGE and n in before and before[n] != now[n]]
        if refused:
            listed = "; ".join(f"{n} {before[n]!r} in the checkpoint, {now[n]!r} now" for n in refused)
            raise WellreadError(f"--resume: {self.out / 'checkpoint'} was written with other training options "
                                f"({listed}): resume with the checkpoint's options, or start again without --resume")

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
            if self.changed:
                content["resumed"] = {"step": self.resumed_at, "changed": self.changed}
            write_json(path, content)
            if not self.options.keep_checkpoints:
                remove(self.out, ("best", "checkpoint"))
            if report is not None:
                report(content)
        if dist.is_initialized():
            dist.barrier()
        if self.rank != 0:
            content = json.loads(path.read_text(encoding="utf-8"))
        return content
