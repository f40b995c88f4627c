"""`wellread lengthdrop` and `wellread search` end to end: read the task, load the fine-tuned model, train or
search, write the results.

LengthDrop continues training a fine-tuned model (its head must be the task's) on the one training loop and
writes a Hugging Face folder plus results.json. The search evaluates length configurations on the dev set
(metric) and on real dev batches (latency, fp32, no autograd, dynamic padding), writes `frontier.json` and
`frontier.png`, and saves the fastest configuration within `max_drop` metric points of the full model into
the model folder as length_config.json, where `load_model` (and so every pipeline) picks it up.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wellread.dynamic.cost import encoder_flops, latency_batches, measure_latency, paired_latency
from wellread.dynamic.options import LengthDropOptions, SearchOptions
from wellread.dynamic.plot import plot_frontier
from wellread.dynamic.search import (
    Candidate,
    Gene,
    Measurement,
    choose,
    evolve,
    gene_config,
    pareto_front,
    refine,
)
from wellread.dynamic.train import LengthDropTask
from wellread.errors import WellreadError
from wellread.finetune.base import FinetuneTask
from wellread.finetune.data import canonical_task, family_of
from wellread.finetune.options import FinetuneOptions
from wellread.finetune.run import (
    HEADS,
    default_select_metric,
    evaluate_model,
    load_for_task,
    loop_args,
    prepare,
    require_task_head,
    run_options,
)
from wellread.models.checkpoint import load_model
from wellread.models.fingerprint import fingerprint
from wellread.models.folder import read_model_folder
from wellread.models.length import LengthConfig, save_length_config
from wellread.options import narrow
from wellread.train.run import Run

# --- LengthDrop training ----------------------------------------------------------------------------


def lengthdrop(job: LengthDropOptions) -> dict[str, Any]:
    """Continue training a fine-tuned model with LengthDrop into `job.out`; returns (and writes) its results
    (`metrics`: the best evaluation, with its step)."""
    drop, opts = job.sandwich(), narrow(FinetuneOptions, job, epochs=job.epochs_or(1.0))
    task_name = canonical_task(opts.task)
    folder = read_model_folder(opts.model)
    require_task_head(folder, task_name)
    prep = prepare(opts)
    run = Run(run_options(opts, job=job))
    model = load_for_task(folder, prep.data)
    model.length_config = None  # a configuration searched for the old weights does not fit the new ones
    prep.tokenizer.check_compatible(model.config)
    inner = prep.task
    inner.batch_size, inner.group_by_length = opts.batch_size, opts.group_by_length
    task = LengthDropTask(inner, model.config.num_hidden_layers, drop)
    select = opts.select_metric or default_select_metric(prep.data)
    extra = {"task": prep.data.name, "model": opts.model, "lengthdrop": asdict(drop)}
    args = loop_args(run, opts, extra, epochs=opts.epochs_or(1.0), select_metric=select,
                     metrics_in_postfix=("train_acc",))
    skips = f", the smallest skipping layers {list(drop.smallest_skip)}" if drop.smallest_skip else ""
    run.train(model, task, args, lambda t: (
        f"{prep.data.describe()}; LengthDrop p={drop.p}, {drop.sub_models} random sub-models, LayerDrop "
        f"{drop.layerdrop}{skips}; {t.total_steps} steps of {opts.batch_size}, lr {opts.lr:g}, "
        f"{t.world} process(es) -> {run.out}"))

    def results() -> dict[str, Any]:
        best = run.best()
        return {"task": prep.data.name, "model": opts.model, "out": str(run.out), "lengthdrop": asdict(drop),
                "skipped_rows": prep.data.skipped_rows,
                "select_metric": select, "best_step": run.best_step(), "metrics": best,
                "steps": run.trainer.total_steps, "batch_size": opts.batch_size, "lr": opts.lr,
                "train_seconds": round(run.seconds, 2), "history": run.trainer.history}

    def report(results: dict[str, Any]) -> None:
        best = results["metrics"]
        print(f"best at step {best['step']}: " + ", ".join(f"{k} {v:.2f}" for k, v in best.items() if k != "step"))

    return run.finish(results, report)


# --- the search -------------------------------------------------------------------------------------


def dev_inputs(task: FinetuneTask) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token and type ids of every evaluation input (QA: windows) of a fine-tuning task."""
    ids, types = [], []
    for _, *encoded in task.eval_sets.values():
        if task.family == "qa":
            ids += encoded[0].ids
            types += encoded[0].types
        elif task.family == "tagging":
            ids += encoded[0]
            types += [np.zeros_like(r) for r in encoded[0]]
        else:
            ids += encoded[0]
            types += encoded[1]
    return ids, types


def frontier_genes(path: str | Path, layers: int, grid: int) -> tuple[Gene, ...]:
    """The frontier of an earlier search (its frontier.json) as genes on `grid`, to start another search from."""
    path = Path(path)
    try:
        frontier = json.loads(path.read_text(encoding="utf-8"))["frontier"]
        genes = []
        for entry in frontier:
            keep, skip = entry["keep"], set(entry["skip"])
            if len(keep) != layers:
                raise WellreadError(f"{path}: a frontier configuration has {len(keep)} layers; the model has {layers}")
            genes.append(tuple(0 if i in skip else max(1, round(k * grid)) for i, k in enumerate(keep)))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise WellreadError(f"{path}: not a frontier.json written by `wellread search` ({err})") from err
    return tuple(genes)


def search_lengths(run: SearchOptions) -> dict[str, Any]:
    """Search length configurations for a fine-tuned model; write the frontier, save the choice; returns the report."""
    if run.cost not in ("latency", "flops"):
        raise WellreadError(f"--cost must be latency or flops, not {run.cost!r}")
    opts = narrow(FinetuneOptions, run)
    folder = read_model_folder(opts.model)
    searched_on = fingerprint(folder.path, length_config=False)  # recorded with the choice: what it fits
    task_name = canonical_task(opts.task)
    require_task_head(folder, task_name)
    labels = list(folder.labels) if folder.labels and family_of(task_name) != "qa" else None
    prep = prepare(opts, train=False, labels=labels)
    model, _ = load_model(folder, HEADS[prep.data.family])
    prep.tokenizer.check_compatible(model.config)
    torch.set_num_threads(run.threads)
    metric = opts.select_metric or default_select_metric(prep.data)
    ids, types = dev_inputs(prep.task)
    lengths = [len(r) for r in ids]
    batches = latency_batches(ids, types, prep.tokenizer.pad_token_id, run.batch_size, run.latency_examples)
    timed = sum(len(b["input_ids"]) for b in batches)
    grid, layers = run.grid, model.config.num_hidden_layers
    search = run.evolution(frontier_genes(run.start_from, layers, grid) if run.start_from is not None else ())

    def evaluate(gene: Gene) -> Measurement:
        config = gene_config(gene, grid)
        model.length_config = config
        metrics = evaluate_model(model, prep.task).metrics
        if metric not in metrics:
            raise WellreadError(f"metric {metric!r} is not among the evaluation's: {sorted(metrics)}")
        flops = encoder_flops(model.config, config, lengths)
        latency = None
        if run.cost == "latency":  # the full model's time, scaled by this configuration's paired ratio to it
            seconds, full_seconds = paired_latency(model, batches, config, None, run.repeats)
            latency = reference * seconds / full_seconds
        return Measurement(latency if latency is not None else flops, metrics[metric], flops, latency)

    reference = measure_latency(model, batches, LengthConfig.full(layers), run.repeats) if run.cost == "latency" else 0
    print(f"{prep.data.describe()}; {layers} layers; cost {run.cost} ({timed} inputs in batches of "
          f"{run.batch_size}, {run.threads} thread(s)); metric {metric}", flush=True)
    candidates = evolve(evaluate, layers, search, progress=opts.progress)
    candidates = refine(evaluate, candidates, search, run.max_drop, progress=opts.progress)
    full = candidates[0]
    frontier = pareto_front(candidates)
    chosen = choose(frontier, full.metric, run.max_drop)
    config = chosen.config(grid)
    speedups = _speedups(model, ids, types, prep.tokenizer.pad_token_id, config, run)
    report = {
        "model": str(folder.path), "task": prep.data.name, "metric": metric, "cost": run.cost, "threads": run.threads,
        "batch_size": run.batch_size, "timed_inputs": timed, "max_drop": run.max_drop,
        "search": asdict(search), "full": full.to_json(grid), "chosen": chosen.to_json(grid),
        "metric_drop": full.metric - chosen.metric, "flops_ratio": full.measurement.flops / chosen.measurement.flops,
        "speedup": speedups, "frontier": [c.to_json(grid) for c in frontier],
        "evaluated": [c.to_json(grid) for c in candidates],
    }
    out = Path(run.out) if run.out is not None else folder.path / "search"
    _write_frontier(out, report, candidates, frontier, chosen, run)
    model.length_config = None
    if run.save:
        save_length_config(config, folder.path, {"metric": metric, "full": full.metric, "chosen": chosen.metric,
                                                 "speedup": speedups, "search": str(out / "frontier.json"),
                                                 "fingerprint": searched_on})
    _print_search(report)
    return report


def _speedups(model: torch.nn.Module, ids: list[list[int]], types: list[list[int]], pad_id: int,
              config: LengthConfig, run: SearchOptions) -> dict[str, dict[str, float]]:
    """Paired full-vs-chosen latency per input at the search's batch size and at batch size 1."""
    out = {}
    for batch_size in dict.fromkeys([run.batch_size, 1]):
        batches = latency_batches(ids, types, pad_id, batch_size, run.latency_examples)
        timed = sum(len(b["input_ids"]) for b in batches)
        t_chosen, t_full = paired_latency(model, batches, config, None, run.repeats)
        out[f"batch_{batch_size}"] = {"full_ms_per_input": 1000 * t_full / timed,
                                      "chosen_ms_per_input": 1000 * t_chosen / timed, "speedup": t_full / t_chosen}
    return out


def _write_frontier(out: Path, report: dict[str, Any], candidates: list[Candidate], frontier: list[Candidate],
                    chosen: Candidate, run: SearchOptions) -> None:
    """frontier.json (the report) and frontier.png (metric against cost, the frontier and the choice) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "frontier.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    timed = report["timed_inputs"]
    scale, label = (1000 / timed, "latency (ms per input, fp32)") if run.cost == "latency" else (1e-9, "GFLOPs")
    plot_frontier(candidates, frontier, candidates[0], chosen, out / "frontier.png", label, report["metric"], scale,
                  f"{report['task']}: length configurations", run.max_drop)


def _print_search(report: dict[str, Any]) -> None:
    full, chosen = report["full"], report["chosen"]
    print(f"full length: {report['metric']} {full['metric']:.2f}, {full['flops'] / 1e9:.4g} GFLOPs per input")
    skipped = f", skipping layers {chosen['skip']}" if chosen["skip"] else ""
    print(f"chosen keep {chosen['keep']}{skipped}: {report['metric']} {chosen['metric']:.2f} "
          f"(drop {report['metric_drop']:.2f}), {chosen['flops'] / 1e9:.4g} GFLOPs "
          f"({report['flops_ratio']:.2f}x fewer)")
    for name, s in report["speedup"].items():
        print(f"  {name}: {s['full_ms_per_input']:.3f} -> {s['chosen_ms_per_input']:.3f} ms per input, "
              f"{s['speedup']:.2f}x faster")
