"""The teacher's side of prediction-layer distillation: its inputs, its per-example outputs, and their cache.

Every training row (an example; a window for QA) gets one float32 array of teacher outputs, independent of the
student's tokenizer where that is possible:

- classification / regression: the logits, (1, C);
- tagging: one row of logits per *word* (read at the word's first sub-word, as evaluation reads them), (W, C),
  NaN for a word the teacher's tokenizer gave no token; the student places them at its own first sub-words;
- QA: the start/end logits of every token of the window, (L, 2); windows only line up when the teacher and the
  student share a tokenizer, which QA distillation therefore requires.

`TeacherCache` computes these once for the whole training set (eval mode, no gradients, optionally bf16) and
keeps them on disk (`values.npy` (R, C) with all rows stacked, `offsets.npy` (N+1,), `meta.json` naming the
teacher and a hash of its inputs); a later run or epoch reads them back instead of running the teacher again.
`LiveTeacher` computes the same rows for each batch (data used once, or a cache not wanted).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from wellread.errors import WellreadError
from wellread.finetune.base import forward
from wellread.tasks.batching import eval_batches, pad_inputs
from wellread.tokenizer import Tokenizer


def same_vocabulary(a: Tokenizer, b: Tokenizer) -> bool:
    """Whether two tokenizers give the same ids for the same text (vocabulary, casing and special tokens)."""
    return (a.vocab == b.vocab and a.lowercase == b.lowercase and a.strip_accents == b.strip_accents
            and a.special_tokens == b.special_tokens)


def require_same_vocabulary(student: Tokenizer, teacher: Tokenizer, what: str) -> None:
    """WellreadError explaining why `what` needs one shared tokenizer, and what to do instead."""
    if same_vocabulary(student, teacher):
        return
    raise WellreadError(
        f"{what} compares the teacher and the student token by token, so both must use the same tokenizer; the "
        f"student's vocabulary ({student.vocab_size} tokens) differs from the teacher's ({teacher.vocab_size} "
        "tokens). Either distil the prediction layer only (--stage prediction, classification and tagging: "
        "per-example outputs do not depend on the vocabulary), or first make a student with the teacher's "
        "vocabulary by general distillation: wellread distill --task none --teacher PRETRAINED_TEACHER "
        "--student tiny --data corpus/ --out student")


@dataclass
class TeacherInputs:
    """The teacher's encoding of every training row; `word_maps` (tagging only): (K, 2) rows of (token position,
    word index) of each word's first sub-word, and `words` the word count of each row."""

    ids: Sequence[np.ndarray]
    types: Sequence[np.ndarray]
    pad_id: int
    word_maps: Sequence[np.ndarray] | None = None
    words: Sequence[int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        """A hash of every input id, type id and word map: a cache made from other inputs is not reused."""
        h = hashlib.sha256()
        for i in range(len(self.ids)):
            h.update(np.asarray(self.ids[i], np.int64).tobytes() + b"|" + np.asarray(self.types[i], np.int64).tobytes())
            if self.word_maps is not None and self.words is not None:
                h.update(np.asarray(self.word_maps[i], np.int64).tobytes() + str(self.words[i]).encode())
            h.update(b";")
        return h.hexdigest()


def teacher_rows(teacher: nn.Module, inputs: TeacherInputs, indices: Sequence[int],
                 batch_size: int) -> list[np.ndarray]:
    """The teacher's output rows (see the module docstring) for `indices`, in that order, without gradients."""
    out: list[np.ndarray] = [np.zeros(0)] * len(indices)
    with torch.no_grad():
        for chunk in eval_batches([len(inputs.ids[i]) for i in indices], batch_size):
            rows = [indices[k] for k in chunk]
            logits = forward(teacher, pad_inputs([inputs.ids[i] for i in rows], [inputs.types[i] for i in rows],
                                                 inputs.pad_id)).numpy()  # (B, C), (B, T, 2) or (B, T, C)
            for b, (k, i) in enumerate(zip(chunk, rows, strict=True)):
                out[k] = _row(logits[b], inputs, i)
    return out


def _row(logits: np.ndarray, inputs: TeacherInputs, i: int) -> np.ndarray:
    if logits.ndim == 1:  # classification: (C,) -> (1, C)
        return logits[None].copy()
    if inputs.word_maps is None:  # QA: (T, 2) -> (L, 2)
        return logits[:len(inputs.ids[i])].copy()
    words = np.full((inputs.words[i], logits.shape[-1]), np.nan, dtype=np.float32)  # tagging: (W, C)
    positions, word_index = inputs.word_maps[i][:, 0], inputs.word_maps[i][:, 1]
    words[word_index] = logits[positions]
    return words


class TeacherRows(Protocol):
    def rows(self, indices: Sequence[int]) -> list[np.ndarray]: ...


class LiveTeacher:
    """Teacher rows computed when a batch asks for them (the teacher in eval mode, no gradients)."""

    def __init__(self, teacher: nn.Module, inputs: TeacherInputs, batch_size: int = 64) -> None:
        self.teacher, self.inputs, self.batch_size = teacher.eval(), inputs, batch_size

    def rows(self, indices: Sequence[int]) -> list[np.ndarray]:
        return teacher_rows(self.teacher, self.inputs, indices, self.batch_size)


class TeacherCache:
    """Teacher rows computed once and stored in `folder` (reused while the teacher and the inputs are the same)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.values = np.load(self.folder / "values.npy", mmap_mode="r")  # (R, C)
        self.offsets = np.load(self.folder / "offsets.npy")  # (N+1,)

    def rows(self, indices: Sequence[int]) -> list[np.ndarray]:
        return [np.array(self.values[self.offsets[i]:self.offsets[i + 1]]) for i in indices]  # copies

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def open_or_build(cls, folder: Path, teacher: nn.Module, teacher_path: str | Path, inputs: TeacherInputs,
                      batch_size: int = 64, bf16: bool = False, progress: bool = True) -> TeacherCache:
        """The cache in `folder` when it was made by this teacher from these inputs, else a new one."""
        folder = Path(folder)
        meta = {"teacher": str(Path(teacher_path).resolve()), "weights": _weights_stamp(Path(teacher_path)),
                "inputs": inputs.fingerprint(), "rows": len(inputs), "bf16": bf16}
        meta_file = folder / "meta.json"
        if meta_file.is_file() and json.loads(meta_file.read_text(encoding="utf-8")) == meta:
            return cls(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        teacher.eval()
        rows: list[np.ndarray] = [np.zeros(0)] * len(inputs)
        order = list(eval_batches([len(r) for r in inputs.ids], batch_size * 16))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for chunk in tqdm(order, desc="teacher outputs", disable=not progress, dynamic_ncols=True):
                for i, row in zip(chunk, teacher_rows(teacher, inputs, chunk.tolist(), batch_size), strict=True):
                    rows[i] = row.astype(np.float32)
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        np.save(tmp / "values.npy", np.concatenate(rows) if rows else np.zeros((0, 1), np.float32))
        np.save(tmp / "offsets.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        return cls(folder)


def _weights_stamp(folder: Path) -> list:
    """Size and modification time of the teacher's weight files: a retrained teacher invalidates the cache."""
    files = sorted(p for p in Path(folder).glob("*") if p.suffix in (".safetensors", ".bin"))
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]
