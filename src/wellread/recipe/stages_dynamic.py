"""Dynamic sequence length stages: LengthDrop training, then the length search on the trained model."""

from __future__ import annotations

from dataclasses import asdict, replace

from wellread.dynamic.options import LengthDropOptions, SearchOptions
from wellread.errors import WellreadError
from wellread.recipe.base import StageContext, StageResult
from wellread.recipe.stages_train import data_items, task_result


def run_lengthdrop(opts: LengthDropOptions, ctx: StageContext) -> StageResult:
    """`lengthdrop()` from the fine-tuned model into the stage folder (a model with the task's head)."""
    from wellread.dynamic.run import lengthdrop

    run_opts = replace(opts, model=str(ctx.inputs["model"]), data=data_items(ctx.inputs["data"]), out=ctx.out,
                       resume=ctx.resume)
    results = lengthdrop(run_opts)
    results["metrics"] = {k: v for k, v in results["metrics"].items() if k != "step"}
    return task_result(results, ctx, run_opts.data, asdict(opts))


def run_search(opts: SearchOptions, ctx: StageContext) -> StageResult:
    """`search_lengths()` on the latest task model, with its task, data and columns unless the stage sets them;
    the choice goes into the model's folder."""
    from wellread.dynamic.run import search_lengths

    targets = [r for r in ctx.earlier if "finetuned" in r.outputs]
    if not targets:
        raise WellreadError("the length search needs a task model: put a finetune, distill or lengthdrop stage "
                            "before it")
    record = targets[-1]
    task = record.details["options"]
    wired = {name: task.get(name) for name in ("task", "text_column", "text_pair_column", "label_column",
                                               "regression", "max_length", "dev_limit")
             if getattr(opts, name) == getattr(SearchOptions(), name)}
    report = search_lengths(replace(opts, **wired, model=opts.model or record.outputs["finetuned"],
                                    data=opts.data or list(record.details["data"]), out=ctx.out))
    chosen, speedup = report["chosen"], report["speedup"][f"batch_{opts.batch_size}"]["speedup"]
    skipped = f", skipping layers {chosen['skip']}" if chosen["skip"] else ""
    summary = (f"{record.name}: keep {chosen['keep']}{skipped}, {report['metric']} {chosen['metric']:.2f} "
               f"(-{report['metric_drop']:.2f}), {speedup:.2f}x at batch {opts.batch_size}")
    details = {k: report[k] for k in ("model", "task", "metric", "cost", "threads", "max_drop", "full", "chosen",
                                      "metric_drop", "flops_ratio", "speedup")}
    details.update(stage=record.name, task=record.details["task"])
    return StageResult({"frontier": str(ctx.out / "frontier.json")}, summary, details)
