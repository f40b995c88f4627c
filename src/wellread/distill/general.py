"""General distillation (`wellread distill --task none`): TinyBERT's layer losses on raw text, no labels.

The teacher is a pretrained (not fine-tuned) model; the student is a preset or config.json (a fresh model built
with the *teacher's* vocabulary, so a student of any shape can learn from any teacher) or a model folder that
already shares the teacher's tokenizer (to continue: its `distill_projection.safetensors` is picked up). OUT is
the student as a Hugging Face folder with the teacher's tokenizer files, ready for task distillation
(`wellread distill --task ...`) or `wellread finetune`, plus the projection when widths differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from wellread.config import ALIASES, PRESETS, load_config, preset
from wellread.distill.data import general_inputs
from wellread.distill.intermediate import LayerDistillTask, LayerStudent, LayerTerms, load_projection
from wellread.distill.options import DistillOptions
from wellread.distill.run import layer_map_for, projection_note
from wellread.distill.teacher import require_same_vocabulary
from wellread.errors import WellreadError
from wellread.finetune.run import loop_args, run_options
from wellread.models import build_model
from wellread.models.checkpoint import load_model
from wellread.models.folder import resolve_model_dir
from wellread.tokenizer import Tokenizer
from wellread.train.run import Run

DEFAULT_LENGTH = 128


def general_student(name: str, tok: Tokenizer) -> tuple[nn.Module, Path | None]:
    """(student, its folder): a fresh preset / config.json model with `tok`'s vocabulary, or a model folder that
    shares `tok` (its own head kept). Preset names win over folders of the same name (write ./tiny)."""
    if name in PRESETS or name in ALIASES or name.endswith(".json"):
        base = load_config(name) if name.endswith(".json") else preset(name)
        config = base.replace(vocab_size=tok.vocab_size, pad_token_id=tok.pad_token_id)
        return build_model(config, "base"), None
    folder = resolve_model_dir(name)
    require_same_vocabulary(Tokenizer.load(folder), tok, "general distillation")
    model, _ = load_model(folder)
    return model, folder


def distill_general(opts: DistillOptions) -> dict[str, float]:
    """Train the student's layers on the teacher's over raw text into `opts.finetune.out`; the last evaluation.
    A finished run (done.json) is kept when resuming."""
    fo = opts.finetune
    if opts.method not in ("auto", "intermediate"):
        raise WellreadError(f"--task none distils the intermediate layers only; --stage {opts.method} needs a task")
    if opts.transfer or opts.augment:
        raise WellreadError("--transfer and --augment belong to task distillation; --task none reads --data")
    if not fo.data:
        raise WellreadError("--data is required: a packed corpus (wellread corpus pack) or text files")
    run = Run(run_options(fo, job=opts))
    if run.done is not None:
        print(f"general distillation already done: {run.out}")
        return run.done["eval"]
    teacher_folder = resolve_model_dir(opts.teacher)
    tok = Tokenizer.load(teacher_folder)
    teacher, _ = load_model(teacher_folder, "base")
    teacher.length_config = None  # layer targets come from every token
    torch.manual_seed(fo.seed)
    student, student_folder = general_student(fo.model, tok)
    tok.check_compatible(student.config)
    max_length = min(fo.max_length or DEFAULT_LENGTH, teacher.config.max_position_embeddings,
                     student.config.max_position_embeddings)
    train, val = general_inputs(fo.data, tok, max_length, fo.progress)
    model = LayerStudent(student, load_projection(student_folder, student.config.hidden_size,
                                                  teacher.config.hidden_size))
    task = LayerDistillTask(train, val, teacher, tok, layer_map_for(opts.layer_map, student, teacher),
                            LayerTerms.parse(opts.layer_losses), fo.batch_size, fo.eval_batch_size,
                            group_by_length=fo.group_by_length)
    extra = {"stage": "general", "teacher": opts.teacher, "student": fo.model, "data": fo.data,
             "layer_map": task.layer_map, "layer_losses": opts.layer_losses, "max_length": max_length}
    run.train(model, task, loop_args(run, fo, extra), lambda t: (
        f"general distillation: {task.num_examples()} inputs of at most {max_length} tokens, layer map "
        f"{task.layer_map}, projection {projection_note(model)}, {t.total_steps} steps -> {run.out}"))
    done = run.finish(report=lambda d: print(f"student written to {run.out}"
                                             + (f": {json.dumps(d['eval'])}" if d["eval"] else "")))
    return done["eval"]
