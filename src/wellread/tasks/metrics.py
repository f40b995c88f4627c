"""Task metrics, all reported as percentages (0-100), the way the GLUE leaderboard, the BERT-miniatures model
card, the official SQuAD script and CoNLL tables print them: accuracy 68.38 (not 0.6838), MCC and correlations
×100 as well (a Pearson of 0.87 is reported as 87.0).

GLUE conventions (ALGORITHMS.md): CoLA Matthews correlation; SST-2, QNLI, RTE, WNLI, MNLI-m/mm accuracy; MRPC and
QQP accuracy and F1 of the positive class (label "1"); STS-B Pearson and Spearman. The GLUE score is the mean
over tasks of each task's mean metric, MNLI counting once as the mean of matched and mismatched accuracy.

Correlations of a constant vector are undefined; they are reported as 0.0 (as sklearn reports MCC 0.0 for a
single predicted class), so a collapsed model scores 0 rather than NaN. Use `is_degenerate` to say why.

SQuAD EM/F1 (`squad_metrics`) and entity-level NER scores (`entity_metrics`) live in `squad_eval` and
`entity_eval` and are re-exported here.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from wellread.tasks.entity_eval import EntityScores, TypeScores, entity_metrics, token_accuracy
from wellread.tasks.specs import TaskSpec, get_task
from wellread.tasks.squad_eval import best_null_thresholds, normalize_answer, squad_exact, squad_f1, squad_metrics

__all__ = [
    "GLUE_METRICS",
    "Degeneracy",
    "EntityScores",
    "TypeScores",
    "accuracy",
    "best_null_thresholds",
    "binary_f1",
    "entity_metrics",
    "glue_metrics",
    "glue_score",
    "is_degenerate",
    "majority_baseline",
    "matthews_corr",
    "normalize_answer",
    "pearson",
    "spearman",
    "squad_exact",
    "squad_f1",
    "squad_metrics",
    "token_accuracy",
]

GLUE_METRICS: tuple[str, ...] = (
    "cola_mcc",
    "sst2_acc",
    "mrpc_acc",
    "mrpc_f1",
    "stsb_pear",
    "stsb_spear",
    "qqp_acc",
    "qqp_f1",
    "mnli_acc",
    "mnli_acc_mm",
    "qnli_acc",
    "rte_acc",
    "wnli_acc",
)

Label = int | str | float


def _pair(predictions: Sequence, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions but {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("no predictions to score")
    return np.asarray(predictions), np.asarray(labels)


def accuracy(predictions: Sequence[Label], labels: Sequence[Label]) -> float:
    """Percentage of predictions equal to their label."""
    preds, gold = _pair(predictions, labels)
    return float(np.mean(preds == gold) * 100.0)


def binary_f1(predictions: Sequence[int], labels: Sequence[int], positive: int = 1) -> float:
    """F1 of the positive class, in percent (0 when the positive class is never predicted and never gold)."""
    from sklearn.metrics import f1_score

    preds, gold = _pair(predictions, labels)
    return float(f1_score(gold, preds, pos_label=positive, average="binary", zero_division=0) * 100.0)


def matthews_corr(predictions: Sequence[int], labels: Sequence[int]) -> float:
    """Matthews correlation coefficient ×100 (0 when only one class is predicted)."""
    from sklearn.metrics import matthews_corrcoef

    preds, gold = _pair(predictions, labels)
    return float(matthews_corrcoef(gold, preds) * 100.0)


def _correlation(kind: str, predictions: Sequence[float], labels: Sequence[float]) -> float:
    from scipy import stats

    preds, gold = _pair(predictions, labels)
    preds, gold = preds.astype(float), gold.astype(float)
    if not (np.isfinite(preds).all() and np.isfinite(gold).all()):
        raise ValueError(f"{kind}: predictions and labels must be finite numbers")
    if len(preds) < 2 or np.ptp(preds) == 0 or np.ptp(gold) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = stats.pearsonr(preds, gold)[0] if kind == "pearson" else stats.spearmanr(preds, gold)[0]
    return 0.0 if math.isnan(value) else float(value) * 100.0


def pearson(predictions: Sequence[float], labels: Sequence[float]) -> float:
    """Pearson correlation ×100 (scipy); 0.0 when either side is constant."""
    return _correlation("pearson", predictions, labels)


def spearman(predictions: Sequence[float], labels: Sequence[float]) -> float:
    """Spearman rank correlation ×100 (scipy, ties get average ranks); 0.0 when either side is constant."""
    return _correlation("spearman", predictions, labels)


def _class_ids(spec: TaskSpec, values: Sequence[Label], what: str) -> list[int]:
    ids = []
    for value in values:
        if isinstance(value, str):
            ids.append(spec.label_id(value))
        elif isinstance(value, (int, np.integer)) and 0 <= int(value) < len(spec.labels):
            ids.append(int(value))
        else:
            raise ValueError(f"{spec.name}: {what} {value!r} is neither a label of {list(spec.labels)} nor its index")
    return ids


def _task_and_names(task: str) -> tuple[TaskSpec, tuple[str, ...]]:
    spec = get_task(task)
    if spec.name == "mnli":
        mismatched = task.lower().replace("_", "-").endswith("-mm") or task.lower().endswith("mnlimm")
        return spec, ("mnli_acc_mm",) if mismatched else ("mnli_acc",)
    return spec, spec.metrics


def glue_metrics(task: str, predictions: Sequence[Label], labels: Sequence[Label]) -> dict[str, float]:
    """The task's metrics, keyed by the GLUE metric names (percent).

    `task` is a GLUE or SICK task name; "mnli" gives `mnli_acc` (use it on dev_matched), "mnli-mm" gives
    `mnli_acc_mm` (dev_mismatched). For classification, predictions and labels may each be class indices into
    the task's label list or the label strings themselves; for regression they are floats.
    """
    spec, names = _task_and_names(task)
    if spec.is_regression:
        preds, gold = [float(p) for p in predictions], [float(g) for g in labels]
    else:
        preds, gold = _class_ids(spec, predictions, "prediction"), _class_ids(spec, labels, "label")
    compute = {
        "acc": accuracy,
        "acc_mm": accuracy,
        "f1": binary_f1,
        "mcc": matthews_corr,
        "pear": pearson,
        "spear": spearman,
    }
    return {name: compute[name.split("_", 1)[1]](preds, gold) for name in names}


def glue_score(results: Mapping[str, float], exclude: Iterable[str] = ()) -> float:
    """Mean over tasks of each task's mean metric (MNLI: mean of `mnli_acc` and `mnli_acc_mm`).

    `results` maps GLUE metric names to values (e.g. the merged dicts of `glue_metrics`); other keys are
    ignored. Tasks missing from `results` are left out of the mean; `exclude` drops tasks (e.g. `["wnli"]`,
    as the BERT paper did).
    """
    skip = {get_task(name).name for name in exclude}
    per_task: dict[str, list[float]] = {}
    for name, value in results.items():
        if name in GLUE_METRICS and name.split("_")[0] not in skip:
            per_task.setdefault(name.split("_")[0], []).append(float(value))
    if not per_task:
        raise ValueError(f"no GLUE metric among {sorted(results)}; expected names like {GLUE_METRICS[:3]}")
    return float(np.mean([np.mean(values) for values in per_task.values()]))


def majority_baseline(train_labels: Sequence[Label], dev_labels: Sequence[Label], task: str) -> dict[str, float]:
    """The task's metrics for a model that always predicts the majority class of `train_labels`.

    Pass the dev labels twice for the dev-set majority (how the published BERT-Tiny MRPC 68.38/81.22 arises:
    279 of 408 GLUE dev pairs are paraphrases). Ties go to the label first in the task's label order. For
    regression the constant prediction is the mean of `train_labels` (correlations are then 0).
    """
    spec, _ = _task_and_names(task)
    if len(train_labels) == 0:
        raise ValueError("majority_baseline needs at least one training label")
    if spec.is_regression:
        constant: Label = float(np.mean([float(v) for v in train_labels]))
    else:
        counts = Counter(_class_ids(spec, train_labels, "label"))
        constant = min(counts, key=lambda label_id: (-counts[label_id], label_id))
    return glue_metrics(task, [constant] * len(dev_labels), dev_labels)


@dataclass(frozen=True)
class Degeneracy:
    """Result of `is_degenerate`: truthy when the model has collapsed; `message` says what it predicts."""

    degenerate: bool
    message: str
    top_prediction: Label | None
    top_fraction: float

    def __bool__(self) -> bool:
        return self.degenerate


def is_degenerate(
    predictions: Sequence[Label],
    threshold: float = 0.98,
    regression: bool = False,
    labels: Sequence[Label] | None = None,
) -> Degeneracy:
    """Whether a model predicts a single class for all or nearly all (≥ `threshold`) inputs.

    Such a model scores the majority baseline (MCC 0, F1 of "always positive"), which published tables have
    reported as results. For `regression=True`, degenerate means (nearly) constant output: a standard
    deviation below 5% of the labels' (when `labels` are given) or below 1e-6.
    """
    if len(predictions) == 0:
        raise ValueError("no predictions to check")
    if regression:
        values = np.asarray(predictions, dtype=float)
        spread = float(values.std())
        limit = 0.05 * float(np.std(np.asarray(labels, dtype=float))) if labels is not None else 1e-6
        collapsed = spread <= max(limit, 1e-6)
        mean = float(values.mean())
        message = (
            f"degenerate model: predictions are nearly constant (mean {mean:.4g}, std {spread:.3g})"
            if collapsed
            else f"predictions vary (mean {mean:.4g}, std {spread:.3g})"
        )
        return Degeneracy(collapsed, message, mean, 1.0 if collapsed else 0.0)
    counts = Counter(p.item() if isinstance(p, np.generic) else p for p in predictions)
    top, count = counts.most_common(1)[0]
    fraction = count / len(predictions)
    collapsed = fraction >= threshold
    share = f"{count}/{len(predictions)} inputs ({fraction:.1%})"
    if collapsed:
        message = (
            f"degenerate model: it predicts {top!r} for {share}; its scores are those of a constant "
            "(majority-class) predictor, not evidence that it learned the task"
        )
        if labels is not None and len(labels):
            gold = Counter(labels).get(top, 0)
            message += f" ({top!r} is the gold label of {gold / len(labels):.1%} of inputs)"
    else:
        message = f"not degenerate: the most frequent prediction {top!r} covers {share}"
    return Degeneracy(collapsed, message, top, fraction)
