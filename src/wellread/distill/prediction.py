"""Prediction-layer distillation as a training-loop Task (Hinton et al. 2015; Turc et al. 2019; TinyBERT's
second stage).

`DistillTask` wraps the student's `FinetuneTask`: that task's `collate` gives the student's batch (inputs and
gold labels), its `evaluate` and `save` are the student's. To each batch the teacher's outputs for the same
rows are added (from `TeacherCache` or `LiveTeacher`, see teacher.py), turned into targets in the student's
token positions. The loss per row mixes the soft loss with the gold loss:

    alpha * soft + (1 - alpha) * gold        (labelled rows)
    soft                                     (transfer rows: unlabelled text the teacher labels)

soft = soft cross-entropy at temperature t (classification), squared error to the teacher's score
(regression), per-token soft cross-entropy at first sub-words (tagging), the mean of the start and end soft
cross-entropies over each window's real positions (QA). The loop averages over rows (tagging: labelled tokens).

A transfer set (classification only) is appended after the labelled rows: row i >= `labelled` is transfer
example i - labelled, encoded with the student's tokenizer; a batch mixing both is padded jointly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wellread.distill.losses import soft_cross_entropy_rows, span_soft_cross_entropy
from wellread.distill.teacher import TeacherRows
from wellread.errors import WellreadError
from wellread.finetune.base import FinetuneTask, forward
from wellread.finetune.tagging import IGNORE
from wellread.tasks.batching import pad_inputs
from wellread.train.order import length_grouped_order


def merge_batches(a: dict[str, Tensor], b: dict[str, Tensor], pad_id: int) -> dict[str, Tensor]:
    """Two padded (B_i, T_i) batches -> one (B_a + B_b, max T) batch; rows of `a` first."""
    T = max(a["input_ids"].shape[1], b["input_ids"].shape[1])

    def pad(x: Tensor, value: int) -> Tensor:
        return F.pad(x, (0, T - x.shape[1]), value=value) if x.ndim == 2 else x

    values = {"input_ids": pad_id, "attention_mask": 0, "token_type_ids": 0}
    return {key: torch.cat([pad(a[key], values.get(key, 0)), pad(b[key], values.get(key, 0))])
            for key in a}


class DistillTask:
    """Prediction-layer distillation of a `FinetuneTask`'s student from teacher rows (see the module docstring)."""

    def __init__(self, task: FinetuneTask, teacher: TeacherRows, alpha: float = 0.5, temperature: float = 1.0,
                 transfer: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
                 student_word_maps: Sequence[np.ndarray] | None = None) -> None:
        """transfer: the student's (ids, types) of unlabelled transfer examples (classification only).
        student_word_maps (tagging): the student's (K, 2) (token position, word index) rows per sentence."""
        if not 0.0 <= alpha <= 1.0:
            raise WellreadError(f"--alpha {alpha} must be between 0 and 1 (the weight of the distillation loss)")
        if temperature <= 0:
            raise WellreadError(f"--temperature {temperature} must be positive")
        if transfer is not None and task.family != "classification":
            raise WellreadError(f"a transfer set needs a sentence (pair) classification task, not {task.family}")
        if task.family == "tagging" and student_word_maps is None:
            raise WellreadError("tagging distillation needs the student's word maps")
        self.task, self.teacher = task, teacher
        self.alpha, self.temperature = alpha, temperature
        self.labelled = task.num_examples()
        self.transfer_ids, self.transfer_types = transfer if transfer is not None else ([], [])
        self.word_maps = student_word_maps
        self.lengths = np.concatenate([task.lengths, np.array([len(r) for r in self.transfer_ids], dtype=np.int64)])

    # --- the loop's Task ------------------------------------------------------------------------------

    def num_examples(self) -> int:
        return len(self.lengths)

    def order(self, epoch: int, generator: torch.Generator) -> list[int]:
        """The student task's order; with a transfer set, length-grouped batches over both."""
        if not len(self.transfer_ids):
            return self.task.order(epoch, generator)
        if not self.task.group_by_length:
            return torch.randperm(len(self.lengths), generator=generator).tolist()
        return length_grouped_order(self.lengths, self.task.batch_size, generator)

    def collate(self, indices: list[int], seed: int) -> dict[str, Tensor]:
        """The student's batch (labelled rows first, then transfer rows), `gold` (B,) and the teacher's targets."""
        labelled = [i for i in indices if i < self.labelled]
        transfer = [i - self.labelled for i in indices if i >= self.labelled]
        batch = self.task.collate(labelled, seed) if labelled else None
        if transfer:
            extra = pad_inputs([self.transfer_ids[i] for i in transfer], [self.transfer_types[i] for i in transfer],
                               self.task.tok.pad_token_id)
            dtype = torch.float32 if self.task.regression else torch.long
            extra["labels"] = torch.zeros(len(transfer), dtype=dtype)  # not used: `gold` is False for these rows
            batch = extra if batch is None else merge_batches(batch, extra, self.task.tok.pad_token_id)
        rows = self.teacher.rows(labelled + [i + self.labelled for i in transfer])
        batch["gold"] = torch.arange(len(rows)) < len(labelled)  # (B,)
        batch.update(self._targets(rows, labelled, batch))
        return batch

    def _targets(self, rows: list[np.ndarray], labelled: list[int], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Teacher rows -> tensors in the student's positions."""
        family = self.task.family
        if family == "classification":
            return {"teacher": torch.from_numpy(np.concatenate(rows))}  # (B, C)
        B, T = batch["input_ids"].shape
        if family == "qa":
            target = torch.zeros(B, T, 2)
            for b, row in enumerate(rows):
                if len(row) != int(batch["attention_mask"][b].sum()):
                    raise WellreadError("the teacher's QA window differs from the student's: QA distillation needs "
                                        "the same tokenizer, --max-length and --doc-stride for both")
                target[b, :len(row)] = torch.from_numpy(row)
            return {"teacher": target}  # (B, T, 2)
        target = torch.zeros(B, T, rows[0].shape[-1])  # tagging: (B, T, C)
        known = torch.zeros(B, T, dtype=torch.bool)
        for b, (i, row) in enumerate(zip(labelled, rows, strict=True)):
            positions, words = self.word_maps[i][:, 0], self.word_maps[i][:, 1]
            found = ~np.isnan(row[words, 0])
            target[b, positions[found]] = torch.from_numpy(row[words[found]])
            known[b, positions[found]] = True
        return {"teacher": target, "teacher_mask": known}

    def weight(self, batch: dict[str, Tensor]) -> float:
        """Rows (tagging: labelled tokens), as the student task averages."""
        return self.task.weight(batch)

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Summed mixed loss (see the module docstring) and the student's training accuracy counts."""
        logits = forward(model, batch)
        family, t, alpha = self.task.family, self.temperature, self.alpha
        stats = {"tokens": float(batch["attention_mask"].sum())}
        if family == "classification":
            gold = batch["gold"]  # (B,)
            if self.task.regression:
                soft = (logits[:, 0] - batch["teacher"][:, 0]) ** 2  # (B,)
                hard = (logits[:, 0] - batch["labels"]) ** 2  # (B,)
            else:
                soft = soft_cross_entropy_rows(logits, batch["teacher"], t)  # (B,)
                hard = F.cross_entropy(logits, batch["labels"], reduction="none")  # (B,)
                stats["train_correct"] = float((logits.argmax(-1) == batch["labels"])[gold].sum())
                stats["train_count"] = float(gold.sum())
            return torch.where(gold, alpha * soft + (1 - alpha) * hard, soft).sum(), stats
        if family == "qa":
            mask = batch["attention_mask"]  # (B, T)
            teacher = batch["teacher"]  # (B, T, 2)
            soft = (span_soft_cross_entropy(logits[..., 0], teacher[..., 0], mask, t)
                    + span_soft_cross_entropy(logits[..., 1], teacher[..., 1], mask, t)) / 2  # (B,)
            hard = (F.cross_entropy(logits[..., 0], batch["starts"], reduction="none")
                    + F.cross_entropy(logits[..., 1], batch["ends"], reduction="none")) / 2  # (B,)
            return (alpha * soft + (1 - alpha) * hard).sum(), stats
        labels = batch["labels"]  # tagging: (B, T)
        known = batch["teacher_mask"] & (labels != IGNORE)  # (B, T)
        soft = soft_cross_entropy_rows(logits[known], batch["teacher"][known], t).sum()
        hard = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="sum")
        scored = labels != IGNORE
        stats["train_correct"] = float((logits.argmax(-1) == labels)[scored].sum())
        stats["train_count"] = float(scored.sum())
        return alpha * soft + (1 - alpha) * hard, stats

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return self.task.evaluate(model)

    def save(self, model: nn.Module, folder: Path) -> None:
        self.task.save(model, folder)
