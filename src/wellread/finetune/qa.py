"""Extractive question answering (SQuAD v1.1 / v2.0) as a training-loop Task.

Features (question/context windows with their start/end targets) and answer decoding are
`wellread.tasks.qa_features`, shared with the answer pipeline. Training minimises the mean of the start and end
cross-entropies; evaluation decodes every example's answer and scores it with the official scripts' EM/F1, against
every reference answer; for v2.0 the evaluation also searches the threshold that would have been best
(best_f1 / best_f1_thresh, to pass as `--null-threshold`), as the official v2.0 script does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wellread.errors import WellreadError
from wellread.finetune.base import EvalReport, FinetuneTask, forward
from wellread.finetune.data import TaskData
from wellread.tasks import QAExample, evaluate_squad, is_degenerate
from wellread.tasks.batching import eval_batches, pad_inputs
from wellread.tasks.qa import references
from wellread.tasks.qa_features import Prediction, QAFeatures, build_features, decode_answer, default_stride
from wellread.tasks.squad_eval import best_null_thresholds
from wellread.tokenizer import Tokenizer


@torch.inference_mode()
def window_logits(model: nn.Module, tok: Tokenizer, features: QAFeatures,
                  batch_size: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
    """(start logits (L,), end logits (L,)) of every window, in feature order."""
    out: list = [None] * len(features)
    for chunk in eval_batches([len(r) for r in features.ids], batch_size):
        batch = pad_inputs([features.ids[i] for i in chunk], [features.types[i] for i in chunk], tok.pad_token_id)
        logits = forward(model, batch).numpy()  # (B, T, 2)
        for row, i in enumerate(chunk):
            n = len(features.ids[i])
            out[i] = (logits[row, :n, 0], logits[row, :n, 1])
    return out


def answer_all(model: nn.Module, tok: Tokenizer, examples: Sequence[QAExample], features: QAFeatures,
               batch_size: int = 64, **decoding: float | int | bool) -> list[Prediction]:
    """Decoded answers of every example, in example order."""
    logits = window_logits(model, tok, features, batch_size)
    per_example: list[list] = [[] for _ in examples]
    for f, (start, end) in enumerate(logits):
        per_example[int(features.example[f])].append((start, end, features.offsets[f]))
    return [decode_answer(ex.context, windows, **decoding) for ex, windows in zip(examples, per_example, strict=True)]


class QATask(FinetuneTask):
    """Extractive QA over `TaskData` of the "qa" family; evaluation sets are scored with SQuAD EM/F1."""

    family = "qa"

    def __init__(self, data: TaskData, tokenizer: Tokenizer, max_length: int = 384, doc_stride: int | None = None,
                 batch_size: int = 32, eval_batch_size: int = 64, n_best: int = 20, max_answer_length: int = 30,
                 null_threshold: float = 0.0) -> None:
        super().__init__(tokenizer, batch_size, eval_batch_size)
        doc_stride = default_stride(max_length) if doc_stride is None else doc_stride
        if doc_stride >= max_length // 2:
            raise WellreadError(f"--doc-stride {doc_stride} must be below half of --max-length {max_length} "
                                "(consecutive windows share that many context tokens)")
        self.data = data
        self.decoding = {"n_best": n_best, "max_answer_length": max_answer_length,
                         "allow_no_answer": data.version == "2.0", "null_threshold": null_threshold}
        self.train = build_features(tokenizer, data.train, max_length, doc_stride)
        self.lengths = np.array([len(r) for r in self.train.ids], dtype=np.int64)
        self.eval_sets = {name: (examples, build_features(tokenizer, examples, max_length, doc_stride))
                          for name, examples in data.evals.items()}
        self.no_answer_probabilities: dict[str, dict[str, float]] = {}

    def collate(self, indices: list[int], seed: int) -> dict[str, Tensor]:
        """Windows padded to the batch's longest, with their start/end targets."""
        batch = pad_inputs([self.train.ids[i] for i in indices], [self.train.types[i] for i in indices],
                           self.tok.pad_token_id)
        batch["starts"] = torch.from_numpy(self.train.starts[indices])  # (B,)
        batch["ends"] = torch.from_numpy(self.train.ends[indices])  # (B,)
        return batch

    def weight(self, batch: dict[str, Tensor]) -> float:
        """The loss is averaged over windows."""
        return float(len(batch["starts"]))

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Summed mean of the start and end cross-entropies (BERT's SQuAD loss)."""
        logits = forward(model, batch)  # (B, T, 2)
        start = F.cross_entropy(logits[..., 0], batch["starts"], reduction="sum")
        end = F.cross_entropy(logits[..., 1], batch["ends"], reduction="sum")
        return (start + end) / 2, {"tokens": float(batch["attention_mask"].sum())}

    def score(self, model: nn.Module) -> EvalReport:
        """Decoded answers and SQuAD EM/F1 of every evaluation set."""
        report = EvalReport(metrics={})
        for name, (examples, features) in self.eval_sets.items():
            answers = answer_all(model, self.tok, examples, features, self.eval_batch_size, **self.decoding)
            predictions = {ex.id: a.text for ex, a in zip(examples, answers, strict=True)}
            metrics = evaluate_squad(examples, predictions, self.data.version)
            if self.data.version == "2.0":
                pairs = list(zip(examples, answers, strict=True))
                metrics.update(best_null_thresholds({ex.id: a.best_span_text for ex, a in pairs},
                                                    {ex.id: a.null_margin for ex, a in pairs}, references(examples)))
            prefix = "" if name == self.data.name else f"{name}_"
            report.metrics.update({f"{prefix}{k}": v for k, v in metrics.items()
                                   if k in ("exact", "f1") or k.startswith("best_") or k.endswith(("_exact", "_f1"))})
            report.predictions[name] = [predictions[ex.id] for ex in examples]
            self.no_answer_probabilities[name] = {ex.id: a.no_answer_probability
                                                  for ex, a in zip(examples, answers, strict=True)}
            check = is_degenerate([a.text for a in answers])
            report.details[name] = {"questions": len(examples), "windows": len(features), "version": self.data.version,
                                    "degenerate": bool(check), "prediction": check.message}
            if check and len(examples) > 1:
                report.warnings.append(f"{name}: {check.message}")
        return report
