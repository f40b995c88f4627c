"""SQuAD v1.1 / v2.0 exact match and F1, following the official evaluation scripts line by line.

Normalisation (both versions): lower-case, drop ASCII punctuation (`string.punctuation`), replace the articles
a/an/the (whole words) by a space, collapse whitespace. A question's score is the maximum over its reference
answers.

Version differences kept from the scripts:

* v1.1: every reference answer counts; token F1 is 0 when prediction and answer share no token (so an empty
  prediction scores 0).
* v2.0: references whose normalised text is empty are dropped and a question left without references (an
  unanswerable one) has the empty string as its only reference; F1 is 1 when both sides are empty and 0 when
  only one is. Results are also split into HasAns_* (questions with reference answers) and NoAns_*.

A question without a prediction scores 0 and is counted in `total` (as in the v1.1 script; the v2.0 script
would crash); their number is returned as `missing`. Scores are percentages.

`best_null_thresholds` is the v2.0 script's threshold search (`find_best_thresh`) over a no-answer score.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD answer normalisation (lower, remove punctuation, remove articles, fix whitespace)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def squad_exact(prediction: str, reference: str) -> float:
    """1.0 when the normalised prediction equals the normalised reference, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def squad_f1(prediction: str, reference: str, version: str = "1.1") -> float:
    """Token-overlap F1 (0..1) between normalised prediction and reference, per the given script version."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(reference).split()
    if version != "1.1" and (not pred_tokens or not gold_tokens):
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _mean(values: list[float]) -> float:
    return 100.0 * sum(values) / len(values) if values else 0.0


def squad_metrics(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]], version: str = "1.1"
) -> dict[str, float]:
    """EM and F1 over all questions of `references` (question id -> reference answer texts; [] = no answer).

    Returns `exact`, `f1`, `total`, `missing` (percentages for the scores), and for version "2.0" also
    `HasAns_exact`, `HasAns_f1`, `HasAns_total`, `NoAns_exact`, `NoAns_f1`, `NoAns_total` when there are such
    questions. Predictions for ids not in `references` are ignored. (`exact` is the v1.1 script's
    `exact_match`.)
    """
    if version not in ("1.1", "2.0"):
        raise ValueError(f"SQuAD version must be '1.1' or '2.0', not {version!r}")
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    missing = 0
    for qid, answers in references.items():
        golds = list(answers)
        if version == "2.0":
            golds = [a for a in golds if normalize_answer(a)] or [""]
        if qid not in predictions:
            missing += 1
            exact[qid] = f1[qid] = 0.0
            continue
        pred = predictions[qid]
        exact[qid] = max((squad_exact(pred, gold) for gold in golds), default=0.0)
        f1[qid] = max((squad_f1(pred, gold, version) for gold in golds), default=0.0)
    result = {
        "exact": _mean(list(exact.values())),
        "f1": _mean(list(f1.values())),
        "total": float(len(exact)),
        "missing": float(missing),
    }
    if version == "2.0":
        for split, has_answer in (("HasAns", True), ("NoAns", False)):
            ids = [qid for qid, answers in references.items() if bool(answers) == has_answer]
            if ids:
                result[f"{split}_exact"] = _mean([exact[qid] for qid in ids])
                result[f"{split}_f1"] = _mean([f1[qid] for qid in ids])
                result[f"{split}_total"] = float(len(ids))
    return result


def best_null_thresholds(
    answers: Mapping[str, str], null_scores: Mapping[str, float], references: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """The v2.0 script's search for the no-answer threshold that maximises EM and F1.

    `answers` holds each question's best non-empty answer ("" when the model found no span) and `null_scores`
    how strongly it prefers "no answer" (the script's na_prob; here any monotone score, e.g. the null logit
    minus the best span's). A question is answered "" when its null score exceeds the threshold. Returns
    best_exact, best_exact_thresh, best_f1, best_f1_thresh (scores in percent over `references`); a threshold
    below every null score (everything answered "") is the smallest score minus 1.
    """
    ids = [qid for qid in references if qid in null_scores]
    if not ids:
        return {}
    golds = {qid: [a for a in references[qid] if normalize_answer(a)] for qid in ids}
    result: dict[str, float] = {}
    for name, score in (("exact", squad_exact), ("f1", lambda p, g: squad_f1(p, g, "2.0"))):
        current = float(sum(not golds[qid] for qid in ids))  # every question answered ""
        best, threshold = current, min(null_scores[qid] for qid in ids) - 1.0
        for qid in sorted(ids, key=lambda q: null_scores[q]):
            if golds[qid]:
                current += max(score(answers.get(qid, ""), gold) for gold in golds[qid])
            elif answers.get(qid, ""):
                current -= 1.0
            if current > best:
                best, threshold = current, float(null_scores[qid])
        result[f"best_{name}"] = 100.0 * best / len(references)
        result[f"best_{name}_thresh"] = threshold
    return result
