"""Dynamic sequence length stages: LengthDrop training, then the length search on the trained model."""

from __future__ import annotations

from dataclasses import asdict

from wellread.errors import WellreadError
from wellread.recipe import options as o
from wellread.recipe.base import StageContext, StageResult
from wellread.recipe.stages_train import task_result


def run_lengthdrop(opts: o.LengthDropOptions, ctx: StageContext) -> StageResult:
    """`lengthdrop()` from the fine-tuned model into the stage folder (a model with the task's head)."""
    from wellread.dynamic.run import lengthdrop
    from wellread.dynamic.train import LengthDropOptions
    from wellread.finetune.data import CustomColumns
    from wellread.finetune.run import FinetuneOptions

    data = ctx.inputs["data"]
    run_opts = FinetuneOptions(
        model=str(ctx.inputs["model"]), task=opts.task, data=data if isinstance(data, list) else [str(data)],
        out=ctx.out, columns=CustomColumns(opts.text_column, opts.text_pair_column, opts.label_column,
                                           opts.regression),
        epochs=opts.epochs, batch_size=opts.batch_size, lr=opts.lr, max_length=opts.max_length,
        train_limit=opts.train_limit, dev_limit=opts.dev_limit, bf16=opts.bf16, seed=opts.seed, resume=ctx.resume)
    results = lengthdrop(run_opts, LengthDropOptions(opts.length_drop_prob, opts.sub_models, opts.layerdrop))
    results["metrics"] = {k: v for k, v in results["metrics"].items() if k != "step"}
    return task_result(results, ctx, run_opts.data, asdict(opts))


def run_search(opts: o.SearchOptions, ctx: StageContext) -> StageResult:
    """`search_lengths()` on the latest task model, its data and columns; the choice goes into its folder."""
    from wellread.dynamic.run import SearchRun, search_lengths
    from wellread.dynamic.search import SearchOptions
    from wellread.finetune.data import CustomColumns
    from wellread.finetune.run import FinetuneOptions

    targets = [r for r in ctx.earlier if "finetuned" in r.outputs]
    if not targets:
        raise WellreadError("the length search needs a task model: put a finetune, distill or lengthdrop stage "
                            "before it")
    record = targets[-1]
    task = record.details["options"]
    run_opts = FinetuneOptions(
        model=record.outputs["finetuned"], task=task["task"], data=list(record.details["data"]), out=ctx.out,
        columns=CustomColumns(task["text_column"], task.get("text_pair_column"), task["label_column"],
                              task.get("regression", False)),
        max_length=task.get("max_length"), dev_limit=task.get("dev_limit"),
        bf16="off")
    report = search_lengths(run_opts, SearchRun(
        cost=opts.cost, batch_size=opts.batch_size, latency_examples=opts.latency_examples, max_drop=opts.max_drop,
        threads=opts.threads, out=ctx.out,
        search=SearchOptions(iterations=opts.iterations, population=opts.population, layer_skip=opts.skip_layers,
                             seed=opts.seed, refine=opts.refine)))
    chosen, speedup = report["chosen"], report["speedup"][f"batch_{opts.batch_size}"]["speedup"]
    skipped = f", skipping layers {chosen['skip']}" if chosen["skip"] else ""
    summary = (f"{record.name}: keep {chosen['keep']}{skipped}, {report['metric']} {chosen['metric']:.2f} "
               f"(-{report['metric_drop']:.2f}), {speedup:.2f}x at batch {opts.batch_size}")
    details = {k: report[k] for k in ("model", "task", "metric", "cost", "threads", "max_drop", "full", "chosen",
                                      "metric_drop", "flops_ratio", "speedup")}
    details.update(stage=record.name, task=record.details["task"])
    return StageResult({"frontier": str(ctx.out / "frontier.json")}, summary, details)
