"""Sequence classification and regression (GLUE, SICK, the user's own files) as a training-loop Task.

Texts (and text pairs) are encoded once, truncated to `max_length` with "longest_first"; batches are padded to
their longest member. Classification trains with cross-entropy over the task's labels (output unit i = label
i), regression with the squared error of the single output. Evaluation scores every evaluation set with the
task's metrics (`glue_metrics` names for GLUE/SICK; accuracy and macro-F1, or Pearson/Spearman, for custom
data), beside the majority-class baseline, and flags a model that predicts one class for everything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wellread.errors import DataError
from wellread.finetune.base import EvalReport, FinetuneTask, forward
from wellread.finetune.data import TaskData
from wellread.tasks import glue_metrics, is_degenerate, majority_baseline
from wellread.tasks.batching import eval_batches, pad_inputs
from wellread.tasks.common import Example
from wellread.tasks.metrics import accuracy, pearson, spearman
from wellread.tokenizer import Tokenizer

ENCODE_CHUNK = 4096


def encode_texts(tok: Tokenizer, texts: Sequence[str], pairs: Sequence[str] | None,
                 max_length: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token ids and type ids of each text (pair), truncated to max_length ("longest_first")."""
    ids, types = [], []
    for start in range(0, len(texts), ENCODE_CHUNK):
        chunk_pairs = None if pairs is None else pairs[start:start + ENCODE_CHUNK]
        for enc in tok.encode_batch(texts[start:start + ENCODE_CHUNK], chunk_pairs, max_length=max_length,
                                    truncation="longest_first"):
            ids.append(np.asarray(enc.ids, dtype=np.int32))
            types.append(np.asarray(enc.type_ids, dtype=np.int8))
    return ids, types


def encode_examples(tok: Tokenizer, examples: Sequence[Example], max_length: int) -> tuple[list, list]:
    """`encode_texts` of Examples (pairs when any example has a second text)."""
    pairs = [ex.text_b or "" for ex in examples] if any(ex.text_b is not None for ex in examples) else None
    return encode_texts(tok, [ex.text_a for ex in examples], pairs, max_length)


@torch.inference_mode()
def predict_logits(model: nn.Module, tok: Tokenizer, ids: Sequence[np.ndarray], types: Sequence[np.ndarray],
                   batch_size: int = 128) -> np.ndarray:
    """Logits (N, C) of every encoded input, batched by similar length, returned in input order."""
    out: np.ndarray | None = None
    for chunk in eval_batches([len(r) for r in ids], batch_size):
        logits = forward(model, pad_inputs([ids[i] for i in chunk], [types[i] for i in chunk], tok.pad_token_id))
        if out is None:
            out = np.zeros((len(ids), logits.shape[-1]), dtype=np.float32)
        out[chunk] = logits.numpy()  # (B, C)
    return out if out is not None else np.zeros((0, 1), dtype=np.float32)


def custom_metrics(predictions: Sequence, labels: Sequence, regression: bool) -> dict[str, float]:
    """Scores for the user's own data: accuracy and macro-F1, or Pearson and Spearman (percent)."""
    if regression:
        return {"pearson": pearson(predictions, labels), "spearman": spearman(predictions, labels)}
    from sklearn.metrics import f1_score

    macro = f1_score(list(labels), list(predictions), average="macro", zero_division=0) * 100.0
    return {"accuracy": accuracy(predictions, labels), "macro_f1": float(macro)}


class ClassificationTask(FinetuneTask):
    """Sequence classification or regression over `TaskData` of the "classification" family."""

    family = "classification"

    def __init__(self, data: TaskData, tokenizer: Tokenizer, max_length: int = 128, batch_size: int = 32,
                 eval_batch_size: int = 128) -> None:
        super().__init__(tokenizer, batch_size, eval_batch_size)
        self.data = data
        self.regression = data.regression
        self.label_ids = {label: i for i, label in enumerate(data.labels)}
        self.ids, self.types = encode_examples(tokenizer, data.train, max_length)
        self.lengths = np.array([len(r) for r in self.ids], dtype=np.int64)
        self.targets = np.array([self._target(ex.label) for ex in data.train],
                                dtype=np.float32 if self.regression else np.int64)
        self.eval_sets = {name: (examples, *encode_examples(tokenizer, examples, max_length))
                          for name, examples in data.evals.items()}

    def _target(self, label: str | float | None) -> float | int:
        if label is None:
            raise DataError(f"{self.data.name}: an unlabelled training example")
        if self.regression:
            return float(label)
        if str(label) not in self.label_ids:
            raise DataError(f"{self.data.name}: label {label!r} is not among the labels {self.data.labels}")
        return self.label_ids[str(label)]

    # --- training ----------------------------------------------------------------------------------

    def collate(self, indices: list[int], seed: int) -> dict[str, Tensor]:
        """Inputs padded to the batch's longest and the targets (class ids or scores)."""
        batch = pad_inputs([self.ids[i] for i in indices], [self.types[i] for i in indices], self.tok.pad_token_id)
        batch["labels"] = torch.from_numpy(self.targets[indices])  # (B,)
        return batch

    def weight(self, batch: dict[str, Tensor]) -> float:
        """The loss is averaged over examples."""
        return float(len(batch["labels"]))

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Summed cross-entropy (squared error for regression), training accuracy counts and tokens."""
        logits = forward(model, batch)  # (B, C), C = 1 for regression
        stats = {"tokens": float(batch["attention_mask"].sum())}
        if self.regression:
            return F.mse_loss(logits.squeeze(-1), batch["labels"], reduction="sum"), stats
        stats["train_correct"] = float((logits.argmax(-1) == batch["labels"]).sum())
        stats["train_count"] = float(len(batch["labels"]))
        return F.cross_entropy(logits, batch["labels"], reduction="sum"), stats

    # --- evaluation --------------------------------------------------------------------------------

    def metrics(self, name: str, predictions: Sequence, labels: Sequence) -> dict[str, float]:
        """The task's metrics for one evaluation set (GLUE names for GLUE/SICK)."""
        if self.data.spec is not None:
            return glue_metrics(name, predictions, labels)
        return custom_metrics(predictions, labels, self.regression)

    def baseline(self, name: str, gold: Sequence) -> dict[str, float]:
        """Metrics of a constant predictor: the training majority (mean for regression), else the set's own."""
        reference = [ex.label for ex in self.data.train if ex.label is not None] or list(gold)
        if self.data.spec is not None:
            return majority_baseline(reference, gold, name)
        if self.regression:
            constant: str | float = float(np.mean([float(v) for v in reference]))
        else:
            counts = {label: reference.count(label) for label in dict.fromkeys(reference)}
            constant = max(counts, key=lambda label: counts[label])
        return custom_metrics([constant] * len(gold), gold, self.regression)

    def predictions(self, logits: np.ndarray) -> list:
        """Label names (or scores) from logits (N, C)."""
        if self.regression:
            return logits[:, 0].astype(float).tolist()
        return [self.data.labels[i] for i in logits.argmax(-1).tolist()]

    def score(self, model: nn.Module) -> EvalReport:
        """Metrics, majority baselines and degeneracy checks of every evaluation set."""
        report = EvalReport(metrics={})
        for name, (examples, ids, types) in self.eval_sets.items():
            gold = [ex.label for ex in examples]
            if any(label is None for label in gold):
                raise DataError(f"{name}: the evaluation data has unlabelled examples (a test file without labels?)")
            preds = self.predictions(predict_logits(model, self.tok, ids, types, self.eval_batch_size))
            report.metrics.update(self.metrics(name, preds, gold))
            report.baselines.update(self.baseline(name, gold))
            report.predictions[name] = preds
            check = is_degenerate(preds, regression=self.regression, labels=gold)
            report.details[name] = {"examples": len(examples), "degenerate": bool(check), "prediction": check.message}
            if check:
                report.warnings.append(f"{name}: {check.message}")
        return report
