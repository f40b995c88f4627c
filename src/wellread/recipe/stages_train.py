"""Training stages: masked-LM pretraining and fine-tuning (single run or the batch-size x lr grid)."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from wellread.finetune.options import FinetuneOptions
from wellread.recipe.base import StageContext, StageResult
from wellread.train.pretrain import PretrainOptions


def run_pretrain(opts: PretrainOptions, ctx: StageContext) -> StageResult:
    """`pretrain()` into the stage folder; details: each phase's final validation figures."""
    from wellread.config import load_config
    from wellread.train.pretrain import pretrain

    finished = pretrain(replace(opts, data=str(ctx.inputs["data"]), out=ctx.out, resume=ctx.resume))
    phases = [{"length": int(spec.split(":")[0]), "steps": done["steps"], "eval": done["eval"]}
              for spec, done in zip(opts.phases, finished, strict=True)]
    final = phases[-1]["eval"]
    config = load_config(ctx.out)
    summary = (f"val MLM acc {100 * final['val_mlm_acc']:.1f}%, perplexity {final['val_perplexity']:.1f}"
               if "val_mlm_acc" in final else "no validation split")
    return StageResult({"model": str(ctx.out)}, summary,
                       {"phases": phases, "base_model": opts.model, "batch_size": opts.batch_size,
                        "config": {k: getattr(config, k) for k in (
                            "model_type", "num_hidden_layers", "hidden_size", "num_attention_heads",
                            "intermediate_size", "vocab_size", "max_position_embeddings")}})


def data_items(data: Any) -> list[str]:
    """A stage's data input as --data items."""
    return [str(item) for item in data] if isinstance(data, list) else [str(data)]


def run_finetune(opts: FinetuneOptions, ctx: StageContext) -> StageResult:
    """`finetune()` (one run or the grid) into the stage folder; details: metrics beside the majority baselines."""
    from wellread.finetune.grid import finetune

    run_opts = replace(opts, model=str(ctx.inputs["model"]), data=data_items(ctx.inputs["data"]), out=ctx.out,
                       resume=ctx.resume)
    return task_result(finetune(run_opts), ctx, run_opts.data, asdict(opts))


def task_result(results: dict[str, Any], ctx: StageContext, data: list[str], options: dict[str, Any]) -> StageResult:
    """A task-training stage's result from its results.json content: metrics beside the majority baselines."""
    metrics, baselines = results["metrics"], results.get("baselines", {})
    main = results.get("select_metric") or next(iter(metrics))
    task = ctx.name if results["task"] == "custom" else results["task"]
    summary = f"{task}: {main} {metrics[main]:.2f}"
    if main in baselines:
        summary += f" (majority baseline {baselines[main]:.2f})"
    details = {"task": task, "metrics": metrics, "baselines": baselines, "warnings": results.get("warnings", []),
               "select_metric": main, "labels": results.get("labels"), "data": data, "options": options}
    for key in ("train_examples", "steps", "batch_size", "lr", "epochs", "train_seconds"):
        if key in results:
            details[key] = results[key]
    return StageResult({"finetuned": str(ctx.out)}, summary, details)
