"""Distillation stages: task distillation (teacher -> student with the task's head) and general distillation
(a pretrained teacher's layers -> a fresh student, over raw text)."""

from __future__ import annotations

from dataclasses import asdict

from wellread.recipe import options as o
from wellread.recipe.base import StageContext, StageResult
from wellread.recipe.stages_train import task_result


def run_distill(opts: o.DistillOptions, ctx: StageContext) -> StageResult:
    """`distill_task` into the stage folder; details as a fine-tune stage's, plus the teacher's metrics."""
    from wellread.distill.run import DistillOptions, distill_task
    from wellread.finetune.data import CustomColumns
    from wellread.finetune.run import FinetuneOptions

    data = ctx.inputs["data"]
    student = FinetuneOptions(
        model=str(ctx.inputs["student"]), task=opts.task, data=data if isinstance(data, list) else [str(data)],
        out=ctx.out, columns=CustomColumns(opts.text_column, opts.text_pair_column, opts.label_column,
                                           opts.regression),
        epochs=opts.epochs, max_steps=opts.max_steps, batch_size=opts.batch_size, lr=opts.lr,
        max_length=opts.max_length, train_limit=opts.train_limit, dev_limit=opts.dev_limit, new_head=opts.new_head,
        bf16=opts.bf16, seed=opts.seed, resume=ctx.resume)
    results = distill_task(DistillOptions(
        teacher=str(ctx.inputs["teacher"]), finetune=student, stage=opts.method, transfer=opts.transfer,
        alpha=opts.alpha, temperature=opts.temperature, layer_map=opts.layer_map,
        intermediate_epochs=opts.intermediate_epochs))
    result = task_result(results, ctx, student.data, asdict(opts))
    result.details["teacher_metrics"] = results.get("teacher_metrics", {})
    return result


def run_general_distill(opts: o.GeneralDistillOptions, ctx: StageContext) -> StageResult:
    """`distill_general` into the stage folder: a student encoder that later stages fine-tune or distil into."""
    from wellread.distill.general import distill_general
    from wellread.distill.run import DistillOptions
    from wellread.finetune.run import FinetuneOptions

    data = ctx.inputs["data"]
    student = FinetuneOptions(
        model=opts.student, task="none", data=data if isinstance(data, list) else [str(data)], out=ctx.out,
        epochs=opts.epochs, max_steps=opts.max_steps, batch_size=opts.batch_size, lr=opts.lr,
        max_length=opts.max_length, bf16=opts.bf16, seed=opts.seed, resume=ctx.resume)
    final = distill_general(DistillOptions(teacher=opts.teacher, finetune=student, stage="auto",
                                           layer_map=opts.layer_map, layer_losses=opts.layer_losses))
    summary = ", ".join(f"{k} {v:.4g}" for k, v in final.items()) or "no validation split"
    return StageResult({"model": str(ctx.out)}, f"general distillation from {opts.teacher}: {summary}",
                       {"teacher": opts.teacher, "eval": final, "base_model": opts.student})
