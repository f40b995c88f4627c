"""What every fine-tuning task shares: length-grouped batch order, the forward pass, saving, and the report
(dynamic padding is `wellread.tasks.batching`).

A fine-tuning task is a `wellread.train.loop.Task`. `FinetuneTask` supplies `num_examples`, `order` (batches
of similar lengths, shuffled), `save` and `evaluate`; subclasses supply `collate`, `weight`, `loss` and
`score` (the full evaluation, returned as an `EvalReport` whose flat `metrics` the loop logs).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from wellread.models.checkpoint import save_model
from wellread.tokenizer import Tokenizer
from wellread.train.order import length_grouped_order


def forward(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """The head's logits for a padded batch, as float32."""
    return model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).logits.float()


@dataclass
class EvalReport:
    """A full evaluation: flat metrics (what the loop logs and selects on) and what a person should see."""

    metrics: dict[str, float]
    baselines: dict[str, float] = field(default_factory=dict)
    """Majority-class (constant predictor) values of the same metrics, where defined."""
    warnings: list[str] = field(default_factory=list)
    """Degenerate-model warnings (the model predicts a single class)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Per evaluation set: example counts, per-type scores, ..."""
    predictions: dict[str, list] = field(default_factory=dict)
    """Evaluation set -> predictions in file order (label names, scores, answer texts or tag lists)."""

    def to_json(self) -> dict[str, Any]:
        """Everything but the predictions, for results.json."""
        return {"metrics": self.metrics, "baselines": self.baselines, "warnings": self.warnings,
                "details": self.details}


class FinetuneTask:
    """Base class of the fine-tuning tasks (see the module docstring)."""

    family = ""

    def __init__(self, tokenizer: Tokenizer, batch_size: int = 32, eval_batch_size: int = 128) -> None:
        self.tok = tokenizer
        self.batch_size = batch_size
        """The loop's global batch size: `order` groups lengths into batches of this size."""
        self.eval_batch_size = eval_batch_size
        self.lengths = np.zeros(0, dtype=np.int64)
        """Token count of each training feature."""
        self.last_report: EvalReport | None = None
        self.group_by_length = True
        """Batch similar lengths together (else a plain random permutation per epoch)."""

    def num_examples(self) -> int:
        """Training features (examples; QA: windows)."""
        return len(self.lengths)

    def order(self, epoch: int, generator: torch.Generator) -> list[int]:
        """This epoch's length-grouped, shuffled order (see `length_grouped_order`)."""
        if not self.group_by_length:
            return torch.randperm(len(self.lengths), generator=generator).tolist()
        return length_grouped_order(self.lengths, self.batch_size, generator)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """The loop's evaluation: `score`'s flat metrics; the full report is kept in `last_report`."""
        self.last_report = self.score(model)
        return self.last_report.metrics

    def score(self, model: nn.Module) -> EvalReport:
        """The full evaluation of `model` (in eval mode, without gradients)."""
        raise NotImplementedError

    def save(self, model: nn.Module, folder: Path) -> None:
        """The model and tokenizer as a Hugging Face folder."""
        save_model(model, folder, self.tok)


def warn_loudly(message: str) -> None:
    """A warning nobody can miss, on stderr."""
    bar = "!" * 100
    print(f"{bar}\nWARNING: {message}\n{bar}", file=sys.stderr, flush=True)
