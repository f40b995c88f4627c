"""Entity-level precision/recall/F1 for BIO (IOB2) tag sequences, computed by `seqeval` in its default mode
(the CoNLL `conlleval` rules: an entity is an exact span with its type; an `I-X` after `O` or after another
type starts a new entity). Scores are percentages; per-type scores are keyed by entity type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TagSequences = Sequence[Sequence[str]]


@dataclass(frozen=True)
class TypeScores:
    """Precision, recall and F1 (percent) with the gold (`support`) and predicted entity counts."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True)
class EntityScores:
    """Overall (micro-averaged) entity scores plus the same per entity type."""

    overall: TypeScores
    per_type: dict[str, TypeScores]

    @property
    def f1(self) -> float:
        """Overall entity F1 (percent)."""
        return self.overall.f1

    def as_dict(self) -> dict[str, float]:
        """Flat dict for logging: `precision`, `recall`, `f1`, then `<TYPE>_precision`, `<TYPE>_recall`, `<TYPE>_f1`."""
        flat = {"precision": self.overall.precision, "recall": self.overall.recall, "f1": self.overall.f1}
        for name, scores in self.per_type.items():
            flat[f"{name}_precision"] = scores.precision
            flat[f"{name}_recall"] = scores.recall
            flat[f"{name}_f1"] = scores.f1
        return flat


def _check(true_tags: TagSequences, pred_tags: TagSequences) -> tuple[list[list[str]], list[list[str]]]:
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} gold sequences but {len(pred_tags)} predicted")
    for index, (gold, pred) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(gold) != len(pred):
            raise ValueError(f"sequence {index}: {len(gold)} gold tags but {len(pred)} predicted")
    return [list(s) for s in true_tags], [list(s) for s in pred_tags]


def entity_metrics(true_tags: TagSequences, pred_tags: TagSequences) -> EntityScores:
    """Entity precision/recall/F1 overall and per type, identical to seqeval's default (non-strict) mode."""
    from seqeval.metrics.sequence_labeling import get_entities, precision_recall_fscore_support

    gold, pred = _check(true_tags, pred_tags)
    gold_entities, pred_entities = get_entities(gold), get_entities(pred)
    types = sorted({entity[0] for entity in gold_entities} | {entity[0] for entity in pred_entities})
    if not gold_entities and not pred_entities:
        return EntityScores(TypeScores(0.0, 0.0, 0.0, 0, 0), {})
    p, r, f, s = precision_recall_fscore_support(gold, pred, average="micro", zero_division=0)
    overall = TypeScores(100.0 * p, 100.0 * r, 100.0 * f, len(gold_entities), len(pred_entities))
    ps, rs, fs, supports = precision_recall_fscore_support(gold, pred, average=None, zero_division=0)
    per_type = {
        name: TypeScores(
            100.0 * float(ps[i]),
            100.0 * float(rs[i]),
            100.0 * float(fs[i]),
            int(supports[i]),
            sum(1 for entity in pred_entities if entity[0] == name),
        )
        for i, name in enumerate(types)
    }
    return EntityScores(overall, per_type)


def token_accuracy(true_tags: TagSequences, pred_tags: TagSequences) -> float:
    """Percentage of tokens whose predicted tag equals the gold tag (POS tagging)."""
    gold, pred = _check(true_tags, pred_tags)
    total = sum(len(s) for s in gold)
    if total == 0:
        raise ValueError("no tokens to score")
    right = sum(g == p for gs, ps in zip(gold, pred, strict=True) for g, p in zip(gs, ps, strict=True))
    return 100.0 * right / total
