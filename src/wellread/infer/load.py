"""Which pipeline a model folder gets, and building it: the task follows the head the model was saved with.

    pipe = load_pipeline("sst2-mini")                        # a sequence classifier: the classify pipeline
    pipe(["a gripping, funny film", {"text": "dull"}])      # -> [{"label": ..., "score": ..., ...}, ...]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wellread.errors import WellreadError
from wellread.infer.answer import AnswerPipeline
from wellread.infer.backends import load_backend, resolve_backend
from wellread.infer.classify import ClassifyPipeline
from wellread.infer.embed import EmbedPipeline
from wellread.infer.fill_mask import FillMaskPipeline
from wellread.infer.pipeline import Pipeline
from wellread.infer.tag import TagPipeline
from wellread.models.folder import ModelFolder, read_model_folder

PIPELINES: dict[str, type[Pipeline]] = {"classify": ClassifyPipeline, "tag": TagPipeline, "answer": AnswerPipeline,
                                        "fill-mask": FillMaskPipeline, "embed": EmbedPipeline}
TASK_HEADS = {"classify": "sequence-classification", "tag": "token-classification",
              "answer": "question-answering", "fill-mask": "masked-lm", "embed": "base"}
"""Pipeline task -> the head its model must have."""


def pipeline_task(model: ModelFolder) -> str:
    """The pipeline task of a model folder, from the head it was saved with."""
    if not model.config.architectures:
        raise WellreadError(f"{model.path}/config.json names no architecture: is this a fine-tuned model?")
    head = model.own_head()
    for task, task_head in TASK_HEADS.items():
        if head == task_head or (task == "fill-mask" and head == "pretraining"):
            return task
    raise WellreadError(f"{model.path} has a {head} head; the pipelines need a classifier, tagger, QA, masked-LM "
                        "or bare encoder (embed) model")


def load_pipeline(model: str | Path | ModelFolder, task: str | None = None, backend: str = "auto",
                  batch_size: int = 32, max_length: int | None = None, onnx_dir: str | Path | None = None,
                  **options: Any) -> Pipeline:
    """The pipeline for a model folder or hub id (or a `ModelFolder` already read). `task` defaults to the one the
    model's head does.

    backend: see `wellread.infer.backends` ("auto", "torch", "torch-bf16", "onnx", "onnx-int8").
    options: task options (answer: doc_stride, max_answer_length, null_threshold; fill-mask: top_k; embed:
    pooling, normalize, default the folder's modules.json, whose sentence_bert_config.json also gives the default
    max_length).
    """
    folder = model if isinstance(model, ModelFolder) else read_model_folder(model)
    found = pipeline_task(folder)
    task = task or found
    if task not in PIPELINES:
        raise WellreadError(f"unknown task {task!r}; choose one of {', '.join(PIPELINES)}")
    if task != found:
        raise WellreadError(f"{folder.path} is a {found} model ({TASK_HEADS[found]} head); "
                            f"`{task}` needs a {TASK_HEADS[task]} model")
    loaded = load_backend(folder, TASK_HEADS[task], resolve_backend(backend), onnx_dir)
    if task == "embed":
        options["sentence"] = folder.sentence
        if max_length is None and folder.sentence.max_length is not None:
            max_length = min(folder.sentence.max_length, folder.config.max_position_embeddings)
    return PIPELINES[task](loaded, folder.load_tokenizer(), folder.config, batch_size, max_length, **options)
