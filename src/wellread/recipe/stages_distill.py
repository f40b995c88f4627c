"""Distillation stages: task distillation (teacher -> student with the task's head) and general distillation
(a pretrained teacher's layers -> a fresh student, over raw text)."""

from __future__ import annotations

from dataclasses import asdict, replace

from wellread.distill.options import DistillOptions, GeneralDistillOptions
from wellread.recipe.base import StageContext, StageResult
from wellread.recipe.stages_train import data_items, task_result


def run_distill(opts: DistillOptions, ctx: StageContext) -> StageResult:
    """`distill_task` into the stage folder; details as a fine-tune stage's, plus the teacher's metrics."""
    from wellread.distill.run import distill_task

    run_opts = replace(opts, teacher=str(ctx.inputs["teacher"]), student=str(ctx.inputs["student"]),
                       data=data_items(ctx.inputs["data"]), out=ctx.out, resume=ctx.resume)
    results = distill_task(run_opts)
    result = task_result(results, ctx, run_opts.data, asdict(opts))
    result.details["teacher_metrics"] = results.get("teacher_metrics", {})
    return result


def run_general_distill(opts: GeneralDistillOptions, ctx: StageContext) -> StageResult:
    """`distill_general` into the stage folder: a student encoder that later stages fine-tune or distil into."""
    from wellread.distill.general import distill_general

    final = distill_general(replace(opts, data=data_items(ctx.inputs["data"]), out=ctx.out, resume=ctx.resume))
    summary = ", ".join(f"{k} {v:.4g}" for k, v in final.items()) or "no validation split"
    return StageResult({"model": str(ctx.out)}, f"general distillation from {opts.teacher}: {summary}",
                       {"teacher": opts.teacher, "eval": final, "base_model": opts.student})
