"""Token classification (CoNLL NER, POS tagging) as a training-loop Task.

Features (words joined with spaces, each word's first sub-word token) are `wellread.tasks.tag_features`, shared
with the tag pipeline. A word's label goes on its first sub-word token; its other sub-words, [CLS]/[SEP] and
padding get -100 (no loss). A prediction is read at each word's first sub-word; a word with no token (cut off by
`max_length`, or made only of characters the tokenizer drops) is predicted "O" (the most frequent training tag
for non-BIO tag sets), so every gold entity counts in the score. NER is scored with entity-level
precision/recall/F1 overall and per type (`entity_metrics`, seqeval's default mode), POS with token accuracy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wellread.finetune.base import EvalReport, FinetuneTask, forward
from wellread.finetune.data import TaskData
from wellread.tasks import TaggedSentence, entity_metrics, is_degenerate, token_accuracy
from wellread.tasks.batching import eval_batches, pad_inputs, pad_rows
from wellread.tasks.tag_features import encode_words
from wellread.tokenizer import Tokenizer

IGNORE = -100


@torch.inference_mode()
def predict_tags(model: nn.Module, tok: Tokenizer, ids: Sequence[np.ndarray], maps: Sequence[np.ndarray],
                 word_counts: Sequence[int], labels: Sequence[str], default: str,
                 batch_size: int = 64) -> list[list[str]]:
    """One tag per word of every sentence (`default` for words without a token), in input order."""
    out: list[list[str]] = [[default] * n for n in word_counts]
    for chunk in eval_batches([len(r) for r in ids], batch_size):
        rows = [ids[i] for i in chunk]
        logits = forward(model, pad_inputs(rows, [np.zeros_like(r) for r in rows], tok.pad_token_id))  # (B, T, C)
        best = logits.argmax(-1).numpy()  # (B, T)
        for row, i in enumerate(chunk):
            for position, word in maps[i]:
                out[i][word] = labels[best[row, position]]
    return out


class TaggingTask(FinetuneTask):
    """Token classification over `TaskData` of the "tagging" family."""

    family = "tagging"

    def __init__(self, data: TaskData, tokenizer: Tokenizer, max_length: int = 256, batch_size: int = 32,
                 eval_batch_size: int = 64) -> None:
        super().__init__(tokenizer, batch_size, eval_batch_size)
        self.data = data
        self.label_ids = {label: i for i, label in enumerate(data.labels)}
        self.bio = data.scheme != "none"
        counts = Counter(tag for sentence in data.train for tag in sentence.tags)
        self.default = "O" if self.bio or not counts else counts.most_common(1)[0][0]
        self.ids, maps = encode_words(tokenizer, [s.tokens for s in data.train], max_length)
        self.labels = [self._label_row(len(r), m, s) for r, m, s in zip(self.ids, maps, data.train, strict=True)]
        self.lengths = np.array([len(r) for r in self.ids], dtype=np.int64)
        self.eval_sets = {name: (sentences, *encode_words(tokenizer, [s.tokens for s in sentences], max_length))
                          for name, sentences in data.evals.items()}

    def _label_row(self, length: int, first: np.ndarray, sentence: TaggedSentence) -> np.ndarray:
        row = np.full(length, IGNORE, dtype=np.int64)
        row[first[:, 0]] = [self.label_ids[sentence.tags[w]] for w in first[:, 1]]
        return row

    def collate(self, indices: list[int], seed: int) -> dict[str, Tensor]:
        """Inputs and labels (-100 except at first sub-words) padded to the batch's longest."""
        rows = [self.ids[i] for i in indices]
        batch = pad_inputs(rows, [np.zeros_like(r) for r in rows], self.tok.pad_token_id)
        batch["labels"] = pad_rows([self.labels[i] for i in indices], IGNORE)  # (B, T)
        return batch

    def weight(self, batch: dict[str, Tensor]) -> float:
        """The loss is averaged over labelled (first sub-word) tokens."""
        return float((batch["labels"] != IGNORE).sum())

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Summed cross-entropy over labelled tokens, with token accuracy counts."""
        logits = forward(model, batch)  # (B, T, C)
        labels = batch["labels"]  # (B, T)
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="sum")
        scored = labels != IGNORE
        return loss, {"train_correct": float((logits.argmax(-1) == labels)[scored].sum()),
                      "train_count": float(scored.sum()), "tokens": float(batch["attention_mask"].sum())}

    def metrics(self, gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> tuple[dict[str, float], dict]:
        """Entity-level scores (and token accuracy) for BIO tags, token accuracy otherwise; and per-type counts."""
        scores = {"accuracy": token_accuracy(gold, pred)}
        if not self.bio:
            return scores, {}
        entities = entity_metrics(gold, pred)
        return entities.as_dict() | scores, {t: vars(s) for t, s in entities.per_type.items()}

    def score(self, model: nn.Module) -> EvalReport:
        """Entity (or token) scores, the all-"O" baseline and a degeneracy check of every evaluation set."""
        report = EvalReport(metrics={})
        for name, (sentences, ids, maps) in self.eval_sets.items():
            gold = [s.tags for s in sentences]
            pred = predict_tags(model, self.tok, ids, maps, [len(s.tokens) for s in sentences], self.data.labels,
                                self.default, self.eval_batch_size)
            prefix = "" if name == self.data.name else f"{name}_"
            metrics, per_type = self.metrics(gold, pred)
            report.metrics.update({prefix + k: v for k, v in metrics.items()})
            constant, _ = self.metrics(gold, [[self.default] * len(s) for s in gold])
            report.baselines.update({prefix + k: v for k, v in constant.items()})
            report.predictions[name] = pred
            check = is_degenerate([tag for tags in pred for tag in tags],
                                  labels=[tag for tags in gold for tag in tags])
            report.details[name] = {"sentences": len(sentences), "degenerate": bool(check),
                                    "prediction": check.message, "per_type": per_type}
            if check:
                report.warnings.append(f"{name}: {check.message}")
        return report
