"""TinyBERT's intermediate-layer distillation as a training-loop Task (task distillation, stage 1, and general
distillation on raw text).

Student layer m learns from teacher layer g(m) (`layer_map`, m = 0 the embedding output), with one shared
learned projection W from the student's width to the teacher's when they differ (`WidthProjection`). Per batch,
summed over the mapped layers (all terms on by default):

    embedding  MSE(E_S W, E_T)                                   real tokens only
    hidden     sum_m MSE(H_S^m W, H_T^g(m))                      real tokens only
    attention  sum_m MSE(A_S^m, A_T^g(m))  pre-softmax scores     real (query, key) pairs only

With different head counts the teacher's heads are averaged in groups to the student's count (`attention_score_mse`:
each student head learns the mean score map of N_t / N_s consecutive teacher heads; the mean of pre-softmax scores
keeps the order of a query's preferences, which is what the softmax turns into attention).

Both models read the same token ids, so the teacher and the student must share a tokenizer (checked by the
caller, see teacher.require_same_vocabulary). The teacher runs live under no_grad: its hidden states and
attention maps are far too large to cache. The loop's model is `LayerStudent` (the student plus the projection,
trained together); `save` writes the student as a Hugging Face folder and, only when widths differ, the
projection beside it as `distill_projection.safetensors` (never inside the student's weights), which a later
distillation from the same folder starts from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from wellread.distill.layers import WidthProjection, projection_for
from wellread.distill.losses import attention_score_mse, hidden_state_mse
from wellread.errors import WellreadError
from wellread.models import EncoderWithHead
from wellread.models.bert import EncoderOutput
from wellread.models.checkpoint import load_state, read_state_dict, save_model
from wellread.models.flops import forward_flops
from wellread.tasks.batching import eval_batches, pad_inputs
from wellread.tokenizer import Tokenizer
from wellread.train.order import length_grouped_order

PROJECTION_FILE = "distill_projection.safetensors"


def encoder_of(model: nn.Module) -> nn.Module:
    """The bare encoder of a head model (or the model itself when it has no head)."""
    return model.base if isinstance(model, EncoderWithHead) else model


def load_projection(folder: Path | None, student_width: int, teacher_width: int) -> WidthProjection | None:
    """None for equal widths; else the projection saved in `folder` when it has these widths, or a fresh one."""
    projection = projection_for(student_width, teacher_width)
    path = Path(folder) / PROJECTION_FILE if folder is not None else None
    if projection is not None and path is not None and path.is_file():
        state = load_file(path)
        if tuple(state["proj.weight"].shape) == (teacher_width, student_width):
            projection.load_state_dict(state)
    return projection


class LayerStudent(nn.Module):
    """The student and the width projection: the module the loop trains in the intermediate stage."""

    def __init__(self, student: nn.Module, projection: WidthProjection | None) -> None:
        super().__init__()
        self.student = student
        self.projection = projection

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """(hidden states projected to the teacher's width: M+1 x (B, T, H_t), attention scores: M x (B, N_s, T, T))."""
        out: EncoderOutput = encoder_of(self.student)(input_ids, attention_mask, token_type_ids,
                                                      output_hidden_states=True, output_attention_scores=True)
        hidden = out.hidden_states if self.projection is None else [self.projection(h) for h in out.hidden_states]
        return hidden, out.attention_scores


@dataclass(frozen=True)
class LayerTerms:
    """Which layer losses to use."""

    embedding: bool = True
    hidden: bool = True
    attention: bool = True

    @classmethod
    def parse(cls, spec: str) -> LayerTerms:
        """"embedding,hidden,attention" (any non-empty subset)."""
        names = {s.strip() for s in spec.split(",") if s.strip()}
        unknown = names - {"embedding", "hidden", "attention"}
        if unknown or not names:
            raise WellreadError(f"--layer-losses {spec!r}: choose from embedding, hidden, attention")
        return cls("embedding" in names, "hidden" in names, "attention" in names)


def layer_losses(student_hidden: Sequence[Tensor], student_scores: Sequence[Tensor], teacher: EncoderOutput,
                 mask: Tensor, layer_map: Sequence[int], terms: LayerTerms) -> dict[str, Tensor]:
    """The per-batch mean losses named by `terms` (see the module docstring); mask (B, T)."""
    t_hidden, t_scores = teacher.hidden_states, teacher.attention_scores
    losses: dict[str, Tensor] = {}
    if terms.embedding:
        losses["embedding"] = hidden_state_mse(student_hidden[0], t_hidden[layer_map[0]], mask)
    layers = range(1, len(layer_map))
    if terms.hidden:
        losses["hidden"] = sum(hidden_state_mse(student_hidden[m], t_hidden[layer_map[m]], mask) for m in layers)
    if terms.attention:
        losses["attention"] = sum(attention_score_mse(student_scores[m - 1], t_scores[layer_map[m] - 1], mask)
                                  for m in layers)
    return losses


class InputRows(Protocol):
    """Encoded inputs: `lengths` (N,) and `get(i) -> (token ids, type ids)`."""

    lengths: np.ndarray

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]: ...


class Sequences:
    """Encoded inputs held in memory."""

    def __init__(self, ids: Sequence[np.ndarray], types: Sequence[np.ndarray]) -> None:
        self.ids, self.types = list(ids), list(types)
        self.lengths = np.array([len(r) for r in self.ids], dtype=np.int64)

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.ids[i], self.types[i]


class LayerDistillTask:
    """Intermediate-layer distillation of `LayerStudent` from a teacher over `train` inputs (the loop's Task)."""

    def __init__(self, train: InputRows, val: InputRows | None, teacher: nn.Module, tokenizer: Tokenizer,
                 layer_map: Sequence[int], terms: LayerTerms = LayerTerms(), batch_size: int = 32,
                 eval_batch_size: int = 64, eval_rows: int = 1000, group_by_length: bool = True) -> None:
        teacher_layers = teacher.config.num_hidden_layers
        if len(layer_map) < 2 or max(layer_map) > teacher_layers:
            raise WellreadError(f"layer map {list(layer_map)} does not fit a {teacher_layers}-layer teacher")
        if terms.attention and 0 in layer_map[1:]:
            raise WellreadError(f"layer map {list(layer_map)}: a student layer mapped to the teacher's embeddings "
                                "(0) has no teacher attention to learn; map it to a layer >= 1 or drop attention "
                                "(--layer-losses embedding,hidden)")
        self.train, self.val = train, val
        self.teacher = teacher.eval().requires_grad_(False)
        self.tok, self.layer_map, self.terms = tokenizer, list(layer_map), terms
        self.batch_size, self.eval_batch_size, self.eval_rows = batch_size, eval_batch_size, eval_rows
        self.group_by_length = group_by_length

    def num_examples(self) -> int:
        return len(self.train.lengths)

    def order(self, epoch: int, generator: torch.Generator) -> list[int]:
        if not self.group_by_length:
            return torch.randperm(len(self.train.lengths), generator=generator).tolist()
        return length_grouped_order(self.train.lengths, self.batch_size, generator)

    def _batch(self, rows: InputRows, indices: Sequence[int]) -> dict[str, Tensor]:
        pairs = [rows.get(int(i)) for i in indices]
        return pad_inputs([p[0] for p in pairs], [p[1] for p in pairs], self.tok.pad_token_id)

    def collate(self, indices: list[int], seed: int) -> dict[str, Tensor]:
        return self._batch(self.train, indices)

    def weight(self, batch: dict[str, Tensor]) -> float:
        """The loss is averaged over sequences."""
        return float(len(batch["input_ids"]))

    def _losses(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
        hidden, scores = model(ids, mask, types)
        with torch.no_grad():
            teacher = encoder_of(self.teacher)(ids, mask, types, output_hidden_states=True,
                                               output_attention_scores=True)
        return layer_losses(hidden, scores, teacher, mask, self.layer_map, self.terms)

    def flops(self, model: LayerStudent, batch: dict[str, Tensor]) -> float:
        """Model FLOPs of a micro-batch (the loop's MFU): the student encoder's forward and backward (3x forward)
        and the teacher encoder's forward, over the real tokens; the width projection's few are left out."""
        lengths = batch["attention_mask"].sum(-1)  # (B,)
        return 3 * forward_flops(model.student.config, lengths) + forward_flops(self.teacher.config, lengths)

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Summed (over sequences) sum of the layer losses; the terms as statistics."""
        n = len(batch["input_ids"])
        losses = self._losses(model, batch)
        stats = {f"{k}_loss": float(v.detach()) * n for k, v in losses.items()}
        stats["tokens"] = float(batch["attention_mask"].sum())
        return sum(losses.values()) * n, stats

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Mean layer losses over (at most `eval_rows` of) the validation inputs; {} without validation data."""
        if self.val is None or not len(self.val.lengths):
            return {}
        n = min(len(self.val.lengths), self.eval_rows)
        totals: dict[str, float] = {}
        for chunk in eval_batches(self.val.lengths[:n], self.eval_batch_size):
            for key, value in self._losses(model, self._batch(self.val, chunk)).items():
                totals[key] = totals.get(key, 0.0) + float(value) * len(chunk)
        result = {f"val_{k}_loss": v / n for k, v in totals.items()}
        result["val_layer_loss"] = sum(totals.values()) / n
        return result

    def save(self, model: LayerStudent, folder: Path) -> None:
        """The student as a Hugging Face folder; the projection beside it only when widths differ."""
        save_model(model.student, folder, self.tok)
        path = Path(folder) / PROJECTION_FILE
        if model.projection is None:
            path.unlink(missing_ok=True)
            return
        widths = {"student_width": str(model.projection.proj.in_features),
                  "teacher_width": str(model.projection.proj.out_features)}
        save_file({k: v.detach().contiguous() for k, v in model.projection.state_dict().items()}, path,
                  metadata=widths)

    def load(self, model: LayerStudent, folder: Path) -> None:
        """Restore what `save` wrote (the loop's resume)."""
        load_state(model.student, read_state_dict(Path(folder)), str(folder))
        if model.projection is not None:
            model.projection.load_state_dict(load_file(Path(folder) / PROJECTION_FILE))

