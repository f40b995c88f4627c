"""A training job's output folder: who wrote it, what an earlier run left there, and writing results safely.

`written_by.json` records what wrote the folder: the job (finetune, distill, lengthdrop, pretrain, ...), the task
and the base model. A job may start in a folder that is empty, holds only files wellread does not know, or was
written by the same job on the same task and base model (the same command re-run); a folder that holds a model or
a run of another job, task or base model (or one without a record) needs `--overwrite`, or the job is refused
with the differences named.

Starting afresh (not resuming) removes what the earlier run left: its run files (log, results, checkpoints) and
its model files (weights, config, tokenizer, length configuration, ONNX exports, predictions), so that a run
killed half-way never leaves old weights beside the new run's log.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from wellread.errors import WellreadError
from wellread.textio import write_text_atomic

RESULTS = "results.json"
DONE = "done.json"
MARKER = "written_by.json"
RUN_FILES = ("log.jsonl", RESULTS, DONE, "best", "checkpoint", "checkpoint.tmp", "checkpoint.old")
"""What a run writes besides its model."""
MODEL_FILES = ("config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
               "pytorch_model.bin.index.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "length_config.json", "model.onnx", "model_int8.onnx", "onnx_check.json",
               "predictions.json", "distill_projection.safetensors")
"""A model folder's files, the derived ones (length configuration, ONNX exports) included."""
CARD = "README.md"
CARD_KEYS = ("wellread_fingerprint", "wellread_recipe")
"""Front-matter keys of a model card wellread wrote (recipe/card.py); a README.md without them is the user's."""


def writer_of(job: Any) -> dict[str, Any]:
    """What a job's options say about the folder it writes: the job (its options class, e.g. FinetuneOptions ->
    finetune), the task and the base model (a distillation's student), a local path made absolute."""
    if job is None:
        return {"job": "train", "task": None, "model": None}
    name = type(job).__name__.removesuffix("Options").lower()
    task = getattr(job, "task", None)
    model = next((getattr(job, n) for n in ("student", "model") if getattr(job, n, None) is not None), None)
    if model is not None and Path(str(model)).exists():
        model = str(Path(str(model)).resolve())
    task = str(task).lower().replace("-", "").replace("_", "") if task is not None else None  # SST-2 = sst2
    return {"job": name, "task": task, "model": str(model) if model is not None else None}


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The folder's written_by.json, or None (absent or unreadable)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def holds_output(folder: Path) -> bool:
    """Whether `folder` holds a model or a run (any file a job writes)."""
    return any((folder / name).exists() for name in (MARKER, *RUN_FILES, *MODEL_FILES))


def claim(folder: Path, writer: dict[str, Any], overwrite: bool) -> None:
    """Refuse (WellreadError naming the folder and the differences) unless `folder` may take a run of `writer`:
    it holds nothing of wellread's, or what `writer` wrote before, or `overwrite`."""
    if overwrite or not folder.is_dir() or not holds_output(folder):
        return
    marker = read_marker(folder)
    if marker is None:
        raise WellreadError(f"--out {folder} holds a model or run that wellread did not record ({MARKER} is "
                            "missing): pass --overwrite to replace it, or choose another folder")
    different = [f"{key} {marker.get(key)!r} (this run: {writer[key]!r})" for key in writer
                 if marker.get(key) != writer[key]]
    if different:
        raise WellreadError(f"--out {folder} holds the output of another run: {', '.join(different)}; pass "
                            "--overwrite to replace it, or choose another folder")


def start_afresh(folder: Path, writer: dict[str, Any]) -> None:
    """Remove an earlier run's run and model files (and a model card wellread wrote) from `folder` and record
    `writer` as its writer."""
    remove(folder, (*RUN_FILES, *MODEL_FILES))
    if is_card(folder / CARD):
        (folder / CARD).unlink()
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / MARKER, writer)


def is_card(path: Path) -> bool:
    """Whether `path` is a model card wellread wrote (its front matter names the recipe and the fingerprint)."""
    try:
        head = path.read_text(encoding="utf-8")[:8192]
    except (OSError, UnicodeDecodeError):
        return False
    return head.startswith("---") and any(f"\n{key}:" in head for key in CARD_KEYS)


def remove(folder: Path, names: tuple[str, ...]) -> None:
    """Remove the files and folders `names` from `folder` (those present)."""
    for name in names:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def write_json(path: Path, content: Any) -> None:
    """`content` as indented JSON at `path`, replacing an old file only once complete."""
    write_text_atomic(path, json.dumps(content, indent=2) + "\n")


def options_json(job: Any) -> dict[str, Any]:
    """A job's options dataclass as JSON (paths as strings)."""
    return json.loads(json.dumps(dataclasses.asdict(job), default=str))
