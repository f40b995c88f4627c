"""`wellread distill` for a task: TinyBERT's two stages on the one training loop.

Stage 1, intermediate (`LayerDistillTask`): the student's layers learn the teacher's embedding output, hidden
states and attention scores on the training inputs (plus any transfer/augmented texts); written to
`OUT/intermediate/` (with `distill_projection.safetensors` when widths differ), or to OUT when it is the only stage.
Stage 2, prediction (`DistillTask`): the student (from stage 1, else `--student`) learns the teacher's outputs mixed
with the gold labels, on the labelled set plus the transfer set; written to OUT with results.json, like `wellread
finetune`. The teacher must be fine-tuned on the task (a pre-trained teacher has no trained head: TinyBERT's trap).

Layer losses need one tokenizer for both models; prediction-layer distillation of classification and tagging
does not (the teacher reads the same examples through its own tokenizer). `stage="auto"` runs both stages when the
tokenizers match, else the prediction stage alone (with a note).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wellread.distill.augment import augmented_examples
from wellread.distill.data import read_transfer
from wellread.distill.intermediate import LayerDistillTask, LayerStudent, LayerTerms, Sequences, load_projection
from wellread.distill.layers import parse_layer_map, uniform_layer_map
from wellread.distill.options import STAGES, DistillOptions
from wellread.distill.prediction import DistillTask
from wellread.distill.teacher import LiveTeacher, TeacherCache, TeacherInputs, require_same_vocabulary, same_vocabulary
from wellread.errors import WellreadError
from wellread.finetune.base import FinetuneTask
from wellread.finetune.classification import encode_examples
from wellread.finetune.data import canonical_task, family_of
from wellread.finetune.qa import QATask
from wellread.finetune.run import (
    HEADS,
    MAX_LENGTH,
    Prepared,
    build_task,
    default_select_metric,
    evaluate_model,
    kept_report,
    load_for_task,
    loop_args,
    prepare,
    print_report,
    run_options,
    write_qa_predictions,
)
from wellread.models.folder import ModelFolder, read_model_folder, resolve_model_dir
from wellread.tasks.common import Example
from wellread.tasks.tag_features import encode_words
from wellread.tokenizer import Tokenizer
from wellread.train.run import Run

TEACHER_CACHE = "teacher_outputs"


# --- models and checks --------------------------------------------------------------------------------


def check_teacher(teacher: ModelFolder, family: str, task: str) -> None:
    """WellreadError unless the teacher's own head is one trained for the task's family (labels are checked and
    re-ordered by `load_for_task`)."""
    head = HEADS[family]
    if teacher.head != head or (family != "qa" and teacher.named_labels(head) is None):
        raise WellreadError(f"the teacher {teacher.path} is not fine-tuned for {task} (its head: {teacher.head_name}); "
                            f"task distillation needs a fine-tuned teacher: `wellread finetune --model {teacher.path} "
                            f"--task {task} ...` first (or --task none for general distillation from a pretrained one)")


def layer_map_for(spec: str | None, student: nn.Module, teacher: nn.Module) -> list[int]:
    """The user's layer map, validated, or the uniform one."""
    m, n = student.config.num_hidden_layers, teacher.config.num_hidden_layers
    return parse_layer_map(spec, m, n) if spec else uniform_layer_map(m, n)


def train_inputs(task: FinetuneTask) -> tuple[list, list]:
    """(token ids, type ids) of a fine-tuning task's training rows."""
    if isinstance(task, QATask):
        return list(task.train.ids), list(task.train.types)
    types = getattr(task, "types", None)
    return list(task.ids), list(types) if types is not None else [r * 0 for r in task.ids]


def eval_inputs(task: FinetuneTask) -> tuple[list, list]:
    """(token ids, type ids) of a fine-tuning task's first evaluation set."""
    first = next(iter(task.eval_sets.values()))
    if isinstance(task, QATask):
        return list(first[1].ids), list(first[1].types)
    if task.family == "tagging":
        return list(first[1]), [r * 0 for r in first[1]]
    return list(first[1]), list(first[2])


# --- the stages ---------------------------------------------------------------------------------------


def intermediate_stage(opts: DistillOptions, prep: Prepared, teacher: nn.Module, transfer: list[Example],
                       out: Path) -> Path:
    """Stage 1 into `out`; returns `out`. A finished stage (done.json) is kept when resuming."""
    fo = opts.finetune
    run = Run(run_options(fo, out, job=opts))
    if run.done is not None:
        print(f"intermediate stage already done: {out}")
        return out
    torch.manual_seed(fo.seed)
    student = load_for_task(fo.model, prep.data, fo.new_head)
    model = LayerStudent(student, load_projection(resolve_model_dir(fo.model), student.config.hidden_size,
                                                  teacher.config.hidden_size))
    ids, types = train_inputs(prep.task)
    if transfer:
        extra_ids, extra_types = encode_examples(prep.tokenizer, transfer, prep.max_length)
        ids, types = ids + extra_ids, types + extra_types
    task = LayerDistillTask(Sequences(ids, types), Sequences(*eval_inputs(prep.task)), teacher, prep.tokenizer,
                            layer_map_for(opts.layer_map, student, teacher), LayerTerms.parse(opts.layer_losses),
                            fo.batch_size, fo.eval_batch_size, group_by_length=fo.group_by_length)
    extra = {"stage": "intermediate", "teacher": opts.teacher, "student": fo.model, "layer_map": task.layer_map,
             "layer_losses": opts.layer_losses}
    args = loop_args(run, fo, extra, epochs=opts.intermediate_epochs, max_steps=opts.intermediate_steps,
                     lr=opts.intermediate_lr or fo.lr)
    run.train(model, task, args, lambda t: f"intermediate stage: {task.num_examples()} inputs, layer map "
                                           f"{task.layer_map}, projection {projection_note(model)}, {t.total_steps} "
                                           f"steps -> {out}")
    run.finish()
    return out


def teacher_inputs(prep: Prepared, teacher_tok: Tokenizer, same: bool, transfer: list[Example],
                   transfer_inputs: tuple[list, list]) -> TeacherInputs:
    """The teacher's encoding of the training rows (labelled, then transfer): the student's own when the
    tokenizers match, else the same examples through the teacher's tokenizer."""
    task, family = prep.task, prep.data.family
    pad = teacher_tok.pad_token_id
    if family == "tagging":
        sentences = [s.tokens for s in prep.data.train]
        ids, maps = encode_words(teacher_tok, sentences, prep.max_length)
        return TeacherInputs(ids, [r * 0 for r in ids], pad, maps, [len(s) for s in sentences])
    if same:
        ids, types = train_inputs(task)
        return TeacherInputs(ids + transfer_inputs[0], types + transfer_inputs[1], pad)
    if family == "qa":
        raise WellreadError("QA distillation needs the teacher and the student to share a tokenizer (the start/end "
                            "targets are per token of identical windows); the vocabularies differ")
    ids, types = encode_examples(teacher_tok, list(prep.data.train) + transfer, prep.max_length)
    return TeacherInputs(ids, types, pad)


def soft_target_task(opts: DistillOptions, prep: Prepared, teacher: nn.Module, teacher_tok: Tokenizer, same: bool,
                     transfer: list[Example], out: Path, bf16: bool) -> tuple[DistillTask, bool]:
    """The prediction stage's Task and whether the teacher's outputs are cached (in `out`/teacher_outputs: when
    asked, or with `auto` when the training rows are seen more than once)."""
    fo, data = opts.finetune, prep.data
    transfer_inputs = encode_examples(prep.tokenizer, transfer, prep.max_length) if transfer else ([], [])
    inputs = teacher_inputs(prep, teacher_tok, same, transfer, transfer_inputs)
    rows_needed = len(inputs) * fo.epochs_or(3.0) if not fo.max_steps else fo.max_steps * fo.batch_size
    cache = opts.cache_teacher == "on" or (opts.cache_teacher == "auto" and rows_needed > len(inputs))
    if cache:
        rows = TeacherCache.open_or_build(out / TEACHER_CACHE, teacher, resolve_model_dir(opts.teacher), inputs,
                                          fo.eval_batch_size, bf16, fo.progress)
    else:
        rows = LiveTeacher(teacher, inputs, fo.eval_batch_size)
    student_maps = encode_words(prep.tokenizer, [s.tokens for s in data.train], prep.max_length)[1] \
        if data.family == "tagging" else None
    task = DistillTask(prep.task, rows, opts.alpha, opts.temperature, transfer_inputs if transfer else None,
                       student_maps)
    return task, cache


def prediction_stage(opts: DistillOptions, prep: Prepared, student_path: str, teacher: nn.Module,
                     teacher_tok: Tokenizer, transfer: list[Example], out: Path) -> dict[str, Any]:
    """Stage 2 into `out`; returns (and writes) results.json's content."""
    fo, data = opts.finetune, prep.data
    run = Run(run_options(fo, out, job=opts))
    same = same_vocabulary(prep.tokenizer, teacher_tok)
    task, cache = soft_target_task(opts, prep, teacher, teacher_tok, same, transfer, out, run.bf16)
    prep.task.batch_size, prep.task.group_by_length, prep.task.last_report = fo.batch_size, fo.group_by_length, None
    torch.manual_seed(fo.seed)
    student = load_for_task(student_path, data, fo.new_head and student_path == fo.model)
    select = fo.select_metric or default_select_metric(data)
    extra = {"stage": "prediction", "teacher": opts.teacher, "student": student_path, "alpha": opts.alpha,
             "temperature": opts.temperature, "transfer_rows": len(transfer), "cached_teacher": cache}
    run.train(student, task, loop_args(run, fo, extra, select_metric=select), lambda t: (
        f"prediction stage: {data.describe()}, transfer {len(transfer)}; teacher outputs "
        f"{'cached in ' + str(out / TEACHER_CACHE) if cache else 'computed per batch'}; alpha {opts.alpha:g}, "
        f"temperature {opts.temperature:g}; {t.total_steps} steps -> {out}"))

    def results() -> dict[str, Any]:
        report = kept_report(run, prep.task, data.family)
        if isinstance(prep.task, QATask):
            write_qa_predictions(prep.task, report, out / "predictions.json")
        teacher_task = prep.task if same else _teacher_task(opts, prep, teacher_tok)
        return {
            "task": data.name, "teacher": opts.teacher, "student": student_path, "out": str(out), "files": data.files,
            "labels": data.labels, "skipped_rows": data.skipped_rows, "select_metric": select,
            "best_step": run.best_step(),
            "steps": run.trainer.total_steps, "train_examples": len(data.train), "transfer_examples": len(transfer),
            "train_seconds": round(run.seconds, 2), **report.to_json(),
            "teacher_metrics": evaluate_model(teacher, teacher_task, run.bf16).metrics,
            "history": run.trainer.history, "options": json.loads(json.dumps(asdict(opts), default=str)),
        }

    def report(results: dict[str, Any]) -> None:
        print_report(results)
        print("teacher: " + ", ".join(f"{k} {v:.2f}" for k, v in results["teacher_metrics"].items()))

    return run.finish(results, report)


def projection_note(model: LayerStudent) -> str:
    """How the student reaches the teacher's width, for the printout."""
    return "learned" if model.projection is not None else "none (same width)"


def _teacher_task(opts: DistillOptions, prep: Prepared, teacher_tok: Tokenizer) -> FinetuneTask:
    """The evaluation sets as the teacher reads them (its own tokenizer; no training rows encoded)."""
    return build_task(replace(prep.data, train=[]), teacher_tok, prep.max_length, opts.finetune)


# --- the command --------------------------------------------------------------------------------------


def distill_task(opts: DistillOptions) -> dict[str, Any]:
    """`wellread distill --task TASK`: the stages chosen by `opts.method` (see the module docstring)."""
    fo = opts.finetune
    if opts.method not in STAGES:
        raise WellreadError(f"--stage must be one of {', '.join(STAGES)}, not {opts.method!r}")
    teacher_folder = read_model_folder(opts.teacher)
    positions = min(teacher_folder.config.max_position_embeddings,
                    read_model_folder(fo.model).config.max_position_embeddings)
    fo.max_length = min(fo.max_length or MAX_LENGTH[family_of_task(fo.task)], positions)
    prep = prepare(fo)
    data = prep.data
    check_teacher(teacher_folder, data.family, data.name)
    teacher_tok = teacher_folder.load_tokenizer()
    same = same_vocabulary(prep.tokenizer, teacher_tok)
    stage = opts.method
    if stage == "auto":
        stage = "both" if same else "prediction"
        if not same:
            print("note: the teacher's and the student's tokenizers differ, so only the prediction layer is "
                  "distilled (layer losses need one shared tokenizer)")
    if stage in ("both", "intermediate"):
        require_same_vocabulary(prep.tokenizer, teacher_tok, "intermediate-layer distillation")
    teacher = load_for_task(teacher_folder, data, quiet=True, complete=True).requires_grad_(False)
    transfer = read_transfer(opts.transfer, data.name, fo.columns, _takes_pairs(data.train)) if opts.transfer else []
    augment = opts.augment_options()
    if augment is not None:
        if data.family != "classification":
            raise WellreadError("--augment is for sentence (pair) classification tasks (word replacement would "
                                "break tag and answer positions)")
        transfer = transfer + augmented_examples(data.train, augment, fo.out, fo.progress)
    out = Path(fo.out)
    out.mkdir(parents=True, exist_ok=True)
    if stage == "intermediate":
        intermediate_stage(opts, prep, teacher, transfer, out)
        return {}
    student_path = fo.model
    if stage == "both":
        student_path = str(intermediate_stage(opts, prep, teacher, transfer, out / "intermediate"))
    return prediction_stage(opts, prep, student_path, teacher, teacher_tok, transfer, out)


def family_of_task(task: str) -> str:
    """The family of a task name in any spelling."""
    return family_of(canonical_task(task))


def _takes_pairs(examples: list[Example]) -> bool:
    return any(ex.text_b is not None for ex in examples)
