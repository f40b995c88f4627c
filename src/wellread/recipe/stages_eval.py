"""The evaluate stage: every fine-tuned model re-evaluated from its saved folder, and inference speed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from wellread.finetune.options import SplitOptions
from wellread.options import option, positive
from wellread.recipe.base import StageContext, StageRecord, StageResult
from wellread.timing import time_calls


@dataclass(kw_only=True)
class SpeedOptions:
    """The inference speed of each model folder on every backend it has (`measure_speed`)."""

    speed: bool = option(True, help="measure the speed (false: evaluate only)")
    speed_length: int = option(128, help="tokens per input (at most the model's positions)")
    speed_batch_sizes: list[int] = option([1, 32], help="the batch sizes timed")
    speed_seconds: float = option(1.5, help="seconds of timed forward passes per batch size, after two warm-up "
                                            "passes")
    threads: int = option(1, help="torch threads for the speed figures (1: comparable across machines and runs)")

    def check(self) -> list[tuple[str, str]]:
        return positive(self, "speed_length", "threads", "speed_seconds")


@dataclass(kw_only=True)
class EvaluateStageOptions(SpeedOptions, SplitOptions):
    """Re-evaluate each fine-tuned model from its saved folder (`wellread evaluate`'s job, on the split it names:
    the model, data and how they are read come from the model's fine-tune stage), and measure inference speed."""


def measure_speed(folder: str | Path, length: int, batch_sizes: list[int], threads: int,
                  seconds: float = 1.5) -> dict[str, Any]:
    """Sequences per second of the model in `folder` through each inference backend it has (PyTorch fp32, and
    ONNX Runtime fp32/int8 when exported), on random token ids of `length`: for each batch size, the mean over
    ~`seconds` of timed forward passes after two warm-up passes."""
    import torch

    from wellread.infer.backends import ONNX_FILES, load_backend
    from wellread.infer.load import TASK_HEADS, pipeline_task
    from wellread.models.folder import read_model_folder

    model_folder = read_model_folder(folder)
    config = model_folder.config
    head = TASK_HEADS[pipeline_task(model_folder)]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    length = min(length, config.max_position_embeddings)
    out: dict[str, Any] = {"length": length, "threads": threads, "torch": torch.__version__, "backends": {}}
    names = ["torch", *(name for name, file in ONNX_FILES.items() if (Path(folder) / file).is_file())]
    try:
        generator = torch.Generator().manual_seed(0)
        for name in names:
            backend = load_backend(model_folder, head, name, threads=threads)
            if name == "torch":
                out["parameters"] = sum(p.numel() for p in backend.model.parameters())
            figures = out["backends"][name] = {}
            for batch in batch_sizes:
                low = min(1000, config.vocab_size // 2)  # past the special tokens
                ids = torch.randint(low, config.vocab_size, (batch, length), generator=generator)
                inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                          "token_type_ids": torch.zeros_like(ids)}
                times = time_calls(partial(backend.forward, inputs), warmup=2, repeats=3, seconds=seconds)
                mean = sum(times) / len(times)
                figures[f"batch{batch}"] = {"ms_per_batch": round(1000 * mean, 2),
                                            "sequences_per_s": round(batch / mean, 1)}
    finally:
        torch.set_num_threads(previous)
    return out


def evaluate_record(record: StageRecord, split: str, target: Path) -> dict[str, Any]:
    """`evaluate()` (what `wellread evaluate` runs) on a fine-tune stage's model and data; the results also go to
    `target`."""
    from wellread.finetune.evaluate import evaluate
    from wellread.finetune.options import EvaluateOptions

    opts = record.details["options"]
    keys = {f.name for f in dataclasses.fields(EvaluateOptions)} - {"model", "data", "split", "output"}
    return evaluate(EvaluateOptions(**{k: v for k, v in opts.items() if k in keys}, model=record.outputs["finetuned"],
                                    data=list(record.details["data"]), split=split, output=target))


def check_reproduces(record: StageRecord, metrics: dict[str, float], tolerance: float = 0.05) -> None:
    """WellreadError unless the saved model scores what its fine-tune stage recorded on the same dev data."""
    from wellread.errors import WellreadError

    for name, value in record.details["metrics"].items():
        if name in metrics and abs(metrics[name] - value) > tolerance:
            raise WellreadError(f"{record.outputs['finetuned']} scores {name} {metrics[name]:.2f} on dev, but its "
                                f"fine-tune stage recorded {value:.2f}: the saved model does not reproduce")
    print(f"  {record.name}: the saved model reproduces its recorded dev metrics")


def run_evaluate(opts: EvaluateStageOptions, ctx: StageContext) -> StageResult:
    """Each fine-tuned model on `split`, then the speed of each model folder (the fine-tuned ones, else the
    latest pretrained one)."""
    finetuned = [r for r in ctx.earlier if "finetuned" in r.outputs]
    models = [r for r in ctx.earlier if "model" in r.outputs]
    evaluations: dict[str, Any] = {}
    for record in finetuned:
        print(f"  {record.name}: {record.details['task']} {opts.split} split")
        result = evaluate_record(record, opts.split, ctx.out / f"{record.name}.json")
        evaluations[record.name] = {k: result.get(k) for k in ("split", "metrics", "baselines", "warnings")}
        evaluations[record.name]["task"] = record.details["task"]
        if (Path(record.outputs["finetuned"]) / "length_config.json").is_file():
            print(f"  {record.name}: runs at the searched lengths (length_config.json), not the trained full length")
        elif opts.split == "dev":
            check_reproduces(record, result["metrics"])
    speed: dict[str, Any] = {}
    if opts.speed:
        for record in finetuned or models[-1:]:
            folder = record.outputs.get("finetuned") or record.outputs["model"]
            speed[record.name] = measure_speed(folder, opts.speed_length, opts.speed_batch_sizes, opts.threads,
                                               opts.speed_seconds)
            for backend, figures in speed[record.name]["backends"].items():
                text = ", ".join(f"batch {b}: {figures[f'batch{b}']['sequences_per_s']:,.0f} seq/s"
                                 for b in opts.speed_batch_sizes)
                print(f"  speed of {record.name} on {backend} (length {opts.speed_length}, {opts.threads} thread(s)): "
                      + text)
    parts = [f"{name} {e['task']} {next(iter(e['metrics']))} {next(iter(e['metrics'].values())):.2f}"
             for name, e in evaluations.items() if e.get("metrics")]
    if speed:
        first, batch = next(iter(speed.values())), opts.speed_batch_sizes[-1]
        fastest = max(first["backends"].items(), key=lambda kv: kv[1][f"batch{batch}"]["sequences_per_s"])
        parts.append(f"{fastest[1][f'batch{batch}']['sequences_per_s']:,.0f} seq/s on {fastest[0]} "
                     f"(batch {batch}, len {first['length']}, {opts.threads} thread)")
    return StageResult({}, "; ".join(parts) or "nothing to evaluate",
                       {"split": opts.split, "evaluations": evaluations, "speed": speed})
