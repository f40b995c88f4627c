"""The one training loop: pretraining, fine-tuning, distillation and LengthDrop all plug a `Task` into it.

The loop owns what every job shares: the data order (a seeded permutation per epoch, so a run resumes at
the exact batch), gradient accumulation, loss normalisation over the whole global batch (so 2 processes
with DDP compute what 1 process computes), clipping, the warm-up/decay schedule, bf16 autocast, progress,
periodic evaluation, best-model keeping and atomic checkpoints with `resume`. Its log records and progress bar
show tokens/s and MFU: the model FLOPs of each batch's real tokens (wellread.models.flops, 3 x forward; a task may
count its own with `flops(model, batch)`) over the elapsed time and the CPU's peak GEMM rate for the precision in use
(wellread.hardware.peak_flops: bf16 under autocast, else fp32).

A task supplies the data and the loss:

    class MyTask:
        def num_examples(self) -> int: ...
        def collate(self, indices: list[int], seed: int) -> dict: ...   # a micro-batch; seed drives its randomness
        def weight(self, batch) -> float: ...     # what the loss is averaged over (examples, masked tokens, ...)
        def loss(self, model, batch) -> tuple[Tensor, dict[str, float]]: ...  # summed loss, summed statistics
        def evaluate(self, model) -> dict[str, float]: ...
        def save(self, model, folder: Path) -> None: ...
        # optional: def order(self, epoch: int, generator) -> list[int]  (e.g. length-grouped batches)
        # optional: def load(self, model, folder: Path) -> None  (restore what `save` wrote, to resume)
        # optional: def flops(self, model, batch) -> float  (training FLOPs of a micro-batch, when the default,
        #   one forward and backward of `model` over the batch's attention_mask, is not what the task computes)
        # optional: def loss_parts(self, model, batch) -> list[Callable[[], tuple[Tensor, dict[str, float]]]]
        #   the summed loss as parts the loop computes and back-propagates one at a time, so that only one
        #   part's activations are alive at once (LengthDrop's sandwich: one forward pass per sub-model). The
        #   last part must use every trained parameter: with DDP, gradients are reduced on its backward.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm import tqdm

from wellread.config import BertConfig
from wellread.errors import WellreadError
from wellread.hardware import peak_flops
from wellread.models.flops import batch_flops
from wellread.train.optim import build_optimizer, warmup_linear
from wellread.train.state import STATE_JSON, has_state, read_state, write_state


class Task(Protocol):
    def num_examples(self) -> int: ...
    def collate(self, indices: list[int], seed: int) -> dict: ...
    def weight(self, batch: dict) -> float: ...
    def loss(self, model: nn.Module, batch: dict) -> tuple[Tensor, dict[str, float]]: ...
    def evaluate(self, model: nn.Module) -> dict[str, float]: ...
    def save(self, model: nn.Module, folder: Path) -> None: ...


@dataclass
class TrainArgs:
    """Options shared by every training job."""

    output_dir: Path
    max_steps: int = 0
    """Optimizer steps; 0 means `epochs` passes over the data."""
    epochs: float = 1.0
    batch_size: int = 32
    """Examples per optimizer step, over all accumulation micro-batches and processes."""
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.1
    """Warm-up length: a fraction of the steps when < 1, else a number of steps."""
    optimizer: str = "adamw"
    max_grad_norm: float = 1.0
    bf16: bool = False
    device: str = "cpu"
    """Where the model trains (autocast's device type); the run harness (train/run.py) checks it."""
    seed: int = 0
    log_every: int = 10
    eval_every: int | None = None
    """Evaluate every N optimizer steps; None: once per epoch (`Trainer.steps_per_epoch`); 0: only at the end.
    Always at the end too."""
    save_every: int = 0
    """Write a resumable checkpoint every N steps (0: only at the end)."""
    select_metric: str | None = None
    """Keep the model with the best value of this evaluation metric (higher is better) as the output."""
    drop_last: bool = False
    progress: bool = True
    metrics_in_postfix: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    """Recorded in the log for the record (task options, data paths)."""
    job: dict[str, Any] = field(default_factory=dict)
    """The job's options as JSON (the run harness fills it in), stored with each checkpoint: a resume compares
    them (train/run.py)."""


def distributed() -> tuple[int, int]:
    """(rank, world size); initialises the gloo/NCCL process group when launched by torchrun."""
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce(values: list[float]) -> list[float]:
    if not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Runs a Task for TrainArgs; `fit()` returns the final evaluation."""

    def __init__(self, model: nn.Module, task: Task, args: TrainArgs) -> None:
        self.task, self.args = task, args
        self.rank, self.world = distributed()
        if args.batch_size % (args.grad_accum * self.world):
            raise WellreadError(f"batch size {args.batch_size} is not divisible by grad_accum x processes "
                                f"({args.grad_accum} x {self.world})")
        self.model = model
        self.ddp = nn.parallel.DistributedDataParallel(model) if self.world > 1 else model
        n = task.num_examples()
        if n == 0:
            raise WellreadError("the training data is empty")
        per_epoch = n // args.batch_size if (args.drop_last or self.world > 1) else math.ceil(n / args.batch_size)
        if per_epoch == 0:
            raise WellreadError(f"{n} training examples cannot fill one batch of {args.batch_size}")
        self.steps_per_epoch = per_epoch
        self.eval_every = args.eval_every if args.eval_every is not None else per_epoch
        self.total_steps = args.max_steps or max(1, round(args.epochs * per_epoch))
        warmup = args.warmup if args.warmup >= 1 else args.warmup * self.total_steps
        self.optimizer = build_optimizer(model, args.optimizer, args.lr, args.weight_decay)
        self.scheduler = warmup_linear(self.optimizer, int(warmup), self.total_steps)
        self.step = 0
        self.best: float | None = None
        self.history: list[dict] = []
        self.ckpt_dir = Path(args.output_dir) / "checkpoint"

    # --- data order ------------------------------------------------------------------------------------

    def _epoch_order(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.args.seed * 1_000_003 + epoch)
        if hasattr(self.task, "order"):
            return list(self.task.order(epoch, g))
        return torch.randperm(self.task.num_examples(), generator=g).tolist()

    def _global_batch(self, step: int) -> list[int]:
        epoch, index = divmod(step, self.steps_per_epoch)
        if getattr(self, "_order_epoch", None) != epoch:
            self._order, self._order_epoch = self._epoch_order(epoch), epoch
        return self._order[index * self.args.batch_size:(index + 1) * self.args.batch_size]

    def _micro_batches(self, step: int) -> tuple[list[dict], float]:
        """This process's micro-batches for a step and the loss denominator of the whole global batch."""
        chunks = np.array_split(np.array(self._global_batch(step)), self.args.grad_accum * self.world)
        mine = chunks[self.rank * self.args.grad_accum:(self.rank + 1) * self.args.grad_accum]
        seed = self.args.seed * 1_000_003 + step
        batches = [self.task.collate(c.tolist(), seed * 131 + self.rank * self.args.grad_accum + i)
                   for i, c in enumerate(mine) if len(c)]
        (total,) = _all_reduce([sum(self.task.weight(b) for b in batches)])
        return batches, total

    # --- checkpoints -----------------------------------------------------------------------------------

    def _state(self) -> dict:
        return {"step": self.step, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "best": self.best, "history": self.history,
                "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
                "total_steps": self.total_steps, "args": _jsonable(asdict(self.args))}

    def save_checkpoint(self) -> None:
        """Model and trainer state, written to a temporary folder then renamed over the old checkpoint."""
        if self.rank != 0:
            return
        tmp = self.ckpt_dir.with_name("checkpoint.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.task.save(self.model, tmp)
        write_state(self._state(), tmp)
        old = self.ckpt_dir.with_name("checkpoint.old")
        if self.ckpt_dir.exists():
            os.replace(self.ckpt_dir, old)
        os.replace(tmp, self.ckpt_dir)
        shutil.rmtree(old, ignore_errors=True)

    def resume(self) -> bool:
        """Continue from output_dir/checkpoint if there is one; returns whether it did."""
        if not has_state(self.ckpt_dir):
            return False
        state = read_state(self.ckpt_dir)  # JSON + safetensors: nothing in it can run code
        if hasattr(self.task, "load"):
            self.task.load(self.model, self.ckpt_dir)
        else:
            from wellread.models.checkpoint import load_state, read_state_dict

            load_state(self.model, read_state_dict(self.ckpt_dir), str(self.ckpt_dir))
        if state["total_steps"] != self.total_steps:
            raise WellreadError(f"{self.ckpt_dir / STATE_JSON} was written for {state['total_steps']} steps, this run "
                                f"has {self.total_steps}: resume with the same options")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.best, self.history = state["step"], state["best"], state["history"]
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        return True

    # --- the loop --------------------------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        """One optimizer step over the global batch; returns loss and summed statistics (all processes)."""
        batches, total = self._micro_batches(self.step)
        self.ddp.train()
        sums: dict[str, float] = {}
        loss_sum = 0.0
        for i, batch in enumerate(batches):
            parts = self._loss_parts(batch)
            for j, part in enumerate(parts):
                sync = i == len(batches) - 1 and j == len(parts) - 1  # DDP reduces gradients once, at the end
                with self.ddp.no_sync() if self.world > 1 and not sync else contextlib.nullcontext():
                    with torch.autocast(self.args.device, dtype=torch.bfloat16, enabled=self.args.bf16):
                        loss, stats = part()
                    # DDP averages gradients over processes: scale so the result is the global-batch mean
                    (loss.float() * (self.world / total)).backward()
                loss_sum += float(loss.detach())
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
            for k, v in self._size(batch).items():
                if k not in stats:  # a task's own count wins
                    sums[k] = sums.get(k, 0.0) + v
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                                         self.args.max_grad_norm or float("inf")))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        keys = sorted(sums)
        reduced = _all_reduce([loss_sum, *(sums[k] for k in keys)])
        return {"loss": reduced[0] / total, "grad_norm": grad_norm, **dict(zip(keys, reduced[1:], strict=True))}

    def _size(self, batch: dict) -> dict[str, float]:
        """The batch's model FLOPs (`flops`) and, unless the task counts them, its real tokens (`tokens`)."""
        config = getattr(self.model, "config", None)
        if hasattr(self.task, "flops"):
            return {"flops": float(self.task.flops(self.model, batch))}
        if not isinstance(config, BertConfig) or not isinstance(batch, dict) or "attention_mask" not in batch:
            return {}
        return {"flops": batch_flops(config, batch), "tokens": float(batch["attention_mask"].sum())}

    def peak(self) -> float | None:
        """The MFU denominator of this run: the CPU's peak GEMM rate in the precision in use, times the processes
        (process 0 reads or measures it; the others log nothing)."""
        if self.rank != 0:
            return None
        peak = peak_flops("bf16" if self.args.bf16 else "fp32")
        return peak * self.world if peak else None

    def _loss_parts(self, batch: dict) -> list[Callable[[], tuple[Tensor, dict[str, float]]]]:
        """The task's loss for `batch` as parts to back-propagate one by one (one part unless it splits it)."""
        if hasattr(self.task, "loss_parts"):
            return self.task.loss_parts(self.ddp, batch)
        return [partial(self.task.loss, self.ddp, batch)]

    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        with torch.inference_mode(), torch.autocast(self.args.device, dtype=torch.bfloat16, enabled=self.args.bf16):
            return self.task.evaluate(self.model)

    def fit(self, resume: bool = False) -> dict[str, float]:
        """Train to total_steps (continuing a checkpoint when resume), save the output, return the last eval."""
        _seed_everything(self.args.seed)
        out = Path(self.args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        if resume and self.resume() and self.rank == 0:
            print(f"resumed from {self.ckpt_dir} at step {self.step}/{self.total_steps}", flush=True)
            _truncate_log(out / "log.jsonl", self.step)
        log = open(out / "log.jsonl", "a", encoding="utf-8") if self.rank == 0 else None  # noqa: SIM115
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not self.args.progress or self.rank != 0,
                   desc="train", dynamic_ncols=True)
        window: list[dict] = []
        train_seconds, last_eval = 0.0, {}
        peak = self.peak()
        postfix = tuple(dict.fromkeys(("loss", *self.args.metrics_in_postfix, "tokens_per_s", "mfu")))
        try:
            while self.step < self.total_steps:
                t0 = time.perf_counter()
                record = self.train_step()
                train_seconds += time.perf_counter() - t0
                window.append(record)
                bar.update(1)
                if self.step % self.args.log_every == 0 or self.step == self.total_steps:
                    summary = _summarise(window, train_seconds, peak)
                    summary.update(step=self.step, lr=self.scheduler.get_last_lr()[0])
                    bar.set_postfix({k: _show(k, summary[k]) for k in postfix if k in summary})
                    self._log(log, {"type": "train", **summary})
                    window, train_seconds = [], 0.0
                at_eval = self.eval_every and self.step % self.eval_every == 0
                if at_eval or self.step == self.total_steps:
                    last_eval = self._evaluate_and_keep(log)
                    if self.rank == 0:
                        bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in last_eval.items()))
                if self.args.save_every and self.step % self.args.save_every == 0 and self.step < self.total_steps:
                    self.save_checkpoint()
        finally:
            bar.close()
            if log:
                log.close()
        self.save_checkpoint()
        if self.rank == 0:
            final = out / "best" if self.args.select_metric and (out / "best").exists() else None
            if final is None:
                self.task.save(self.model, out)
            else:
                for item in final.iterdir():  # each output file replaced only once complete
                    tmp = out / f".{item.name}.tmp"
                    shutil.copy2(item, tmp)
                    os.replace(tmp, out / item.name)
        if dist.is_initialized():
            dist.barrier()  # the output folder is complete before any process reads it
        return last_eval

    def _evaluate_and_keep(self, log) -> dict[str, float]:
        result = self.evaluate() if self.rank == 0 else {}
        if self.rank == 0:
            self.history.append({"step": self.step, **result})
            self._log(log, {"type": "eval", "step": self.step, **result})
            metric = self.args.select_metric
            if metric:
                if metric not in result:
                    raise WellreadError(f"select metric {metric!r} is not among the evaluation's: {sorted(result)}")
                if self.best is None or result[metric] > self.best:
                    self.best = result[metric]
                    self.task.save(self.model, Path(self.args.output_dir) / "best")
        if dist.is_initialized():
            dist.barrier()
        return result

    def _log(self, log, record: dict) -> None:
        if log is not None:
            log.write(json.dumps(record) + "\n")
            log.flush()


def _truncate_log(path: Path, step: int) -> None:
    """Drop log records written after the checkpoint a run resumes from (they are about to be redone)."""
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("".join(line + "\n" for line in lines if json.loads(line).get("step", 0) <= step))


def _summarise(window: list[dict], seconds: float, peak: float | None = None) -> dict[str, float]:
    """Averages over the logging window; `correct`/`count` style sums become accuracies, `tokens` tokens/s,
    `flops` the model-FLOPs utilisation against `peak` FLOP/s (`mfu`, a fraction)."""
    total = {k: sum(r.get(k, 0.0) for r in window) for k in window[0]}
    out = {"loss": total["loss"] / len(window), "grad_norm": total["grad_norm"] / len(window)}
    for key, value in total.items():
        if key.endswith("_correct") and total.get(key.replace("_correct", "_count")):
            out[key.replace("_correct", "_acc")] = value / total[key.replace("_correct", "_count")]
    if "tokens" in total:
        out["tokens_per_s"] = total["tokens"] / max(seconds, 1e-9)
    if total.get("flops") and peak:
        out["mfu"] = total["flops"] / max(seconds, 1e-9) / peak
    return out


def _show(key: str, value: float) -> str:
    """A progress-bar value: MFU as a percentage, anything else to 4 significant digits."""
    return f"{100 * value:.1f}%" if key == "mfu" else f"{value:.4g}"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
