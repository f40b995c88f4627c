"""Metrics against hand-computed values (GLUE, regression, SQuAD, entity F1) and against seqeval."""

from __future__ import annotations

import math
import random

import pytest

from wellread.tasks import metrics as m
from wellread.tasks.specs import GLUE_TASKS, get_task

# --- GLUE classification / regression ---------------------------------------------------------------


def test_glue_metric_names_are_exactly_the_published_ones():
    assert m.GLUE_METRICS == (
        "cola_mcc", "sst2_acc", "mrpc_acc", "mrpc_f1", "stsb_pear", "stsb_spear", "qqp_acc", "qqp_f1",
        "mnli_acc", "mnli_acc_mm", "qnli_acc", "rte_acc", "wnli_acc",
    )  # fmt: skip
    assert [name for task in GLUE_TASKS for name in get_task(task).metrics] == list(m.GLUE_METRICS)


# preds/labels with tp=2 (0, 4), fp=1 (1), tn=2 (2, 3), fn=1 (5)
PREDS = [1, 1, 0, 0, 1, 0]
GOLD = [1, 0, 0, 0, 1, 1]


def test_accuracy_f1_mcc_by_hand():
    assert m.accuracy(PREDS, GOLD) == pytest.approx(100 * 4 / 6)
    precision = recall = 2 / 3
    assert m.binary_f1(PREDS, GOLD) == pytest.approx(100 * 2 * precision * recall / (precision + recall))
    # MCC = (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (4 - 1) / sqrt(3*3*3*3)
    assert m.matthews_corr(PREDS, GOLD) == pytest.approx(100 * 3 / 9)


def test_mcc_and_f1_of_a_constant_predictor():
    assert m.matthews_corr([1, 1, 1, 1], [1, 0, 1, 0]) == 0.0
    assert m.binary_f1([0, 0, 0], [1, 0, 1]) == 0.0


def test_pearson_by_hand():
    x, y = [1, 2, 3, 4], [2, 4, 5, 9]
    # deviations (-1.5, -.5, .5, 1.5) and (-3, -1, 0, 4): cov 11, sxx 5, syy 26
    assert m.pearson(x, y) == pytest.approx(100 * 11 / math.sqrt(5 * 26))


def test_spearman_with_ties_uses_average_ranks():
    x, y = [1, 2, 2, 3], [1, 3, 2, 4]
    # ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4): cov 4.5, sxx 4.5, syy 5
    assert m.spearman(x, y) == pytest.approx(100 * 4.5 / math.sqrt(4.5 * 5))


def test_correlation_of_constant_predictions_is_zero_not_nan():
    assert m.pearson([3.0, 3.0, 3.0], [1.0, 2.0, 5.0]) == 0.0
    assert m.spearman([3.0, 3.0, 3.0], [1.0, 2.0, 5.0]) == 0.0


def test_length_mismatch_and_empty_raise():
    with pytest.raises(ValueError, match="2 predictions but 3 labels"):
        m.accuracy([1, 0], [1, 0, 1])
    with pytest.raises(ValueError):
        m.accuracy([], [])


def test_glue_metrics_per_task_and_label_strings():
    assert m.glue_metrics("MRPC", PREDS, GOLD) == pytest.approx({"mrpc_acc": 100 * 4 / 6, "mrpc_f1": 100 * 2 / 3})
    assert set(m.glue_metrics("cola", PREDS, GOLD)) == {"cola_mcc"}
    rte_gold = ["entailment", "not_entailment", "entailment"]
    assert m.glue_metrics("rte", [0, 1, 1], rte_gold) == {"rte_acc": pytest.approx(100 * 2 / 3)}
    stsb = m.glue_metrics("sts-b", [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 5.0, 9.0])
    assert set(stsb) == {"stsb_pear", "stsb_spear"} and stsb["stsb_spear"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="unknown label"):
        m.glue_metrics("rte", [0], ["maybe"])


def test_mnli_matched_and_mismatched_names():
    gold = ["contradiction", "entailment", "neutral", "neutral"]
    assert m.glue_metrics("mnli", [0, 1, 2, 0], gold) == {"mnli_acc": 75.0}
    assert m.glue_metrics("mnli-mm", [0, 1, 2, 2], gold) == {"mnli_acc_mm": 100.0}
    assert m.glue_metrics("mnli_mm", [0, 0, 0, 0], gold) == {"mnli_acc_mm": 25.0}


def test_glue_score_averages_tasks_with_mnli_counted_once():
    results = {"cola_mcc": 40.0, "mrpc_acc": 80.0, "mrpc_f1": 90.0, "mnli_acc": 70.0, "mnli_acc_mm": 72.0, "loss": 9}
    # cola 40, mrpc (80 + 90) / 2 = 85, mnli (70 + 72) / 2 = 71
    assert m.glue_score(results) == pytest.approx((40 + 85 + 71) / 3)
    assert m.glue_score({**results, "wnli_acc": 10.0}, exclude=["WNLI"]) == pytest.approx((40 + 85 + 71) / 3)
    with pytest.raises(ValueError):
        m.glue_score({"loss": 1.0})


def test_majority_baseline_reproduces_bert_tiny_mrpc():
    dev = [1] * 279 + [0] * 129  # GLUE MRPC dev: 408 pairs, 279 paraphrases
    scores = m.majority_baseline(dev, dev, "mrpc")
    assert round(scores["mrpc_acc"], 2) == 68.38
    assert round(scores["mrpc_f1"], 2) == 81.22


def test_majority_baseline_cola_ties_and_regression():
    assert m.majority_baseline(["1", "1", "0"], ["0", "1", "1", "1"], "cola") == {"cola_mcc": 0.0}
    # tie -> first label in the task's order ("entailment" for RTE)
    tie = m.majority_baseline(["not_entailment", "entailment"], ["entailment", "not_entailment"], "rte")
    assert tie == {"rte_acc": 50.0}
    assert m.majority_baseline([1.0, 3.0], [1.0, 2.0, 4.0], "stsb") == {"stsb_pear": 0.0, "stsb_spear": 0.0}


def test_is_degenerate():
    collapsed = m.is_degenerate([1] * 408, labels=[1] * 279 + [0] * 129)
    assert collapsed and collapsed.top_prediction == 1 and collapsed.top_fraction == 1.0
    assert "408/408" in collapsed.message and "68.4%" in collapsed.message
    assert m.is_degenerate([0] * 99 + [1])  # 99% >= 98%
    healthy = m.is_degenerate([0, 1] * 50)
    assert not healthy and "not degenerate" in healthy.message
    assert m.is_degenerate([2.5] * 10, regression=True)
    assert m.is_degenerate([2.5, 2.51, 2.49], regression=True, labels=[1.0, 3.0, 5.0])
    assert not m.is_degenerate([1.0, 3.0, 4.5], regression=True, labels=[1.0, 3.0, 5.0])


# --- SQuAD ----------------------------------------------------------------------------------------


def test_squad_normalisation():
    assert m.normalize_answer("The  Cat, a dog!") == "cat dog"
    assert m.normalize_answer("An apple") == "apple"
    assert m.normalize_answer("theatre and Anne") == "theatre and anne"  # articles only as whole words
    assert m.normalize_answer("  U.S.\tArmy ") == "us army"


def test_squad_exact_and_f1_by_hand():
    assert m.squad_exact("the Eiffel Tower.", "Eiffel tower") == 1.0
    # normalised tokens [big, red, cat] vs [red, cat, sat]: 2 common, P = R = 2/3
    assert m.squad_f1("the big red cat", "red cat sat") == pytest.approx(2 / 3)
    assert m.squad_f1("dog", "cat") == 0.0


def test_squad_metrics_max_over_references_and_missing():
    refs = {"q1": ["Denver Broncos", "The Broncos"], "q2": ["1990s", "the 1990s"], "q3": ["Paris"]}
    preds = {"q1": "Broncos", "q2": "in the 1990s"}
    result = m.squad_metrics(preds, refs)
    # q1: EM 1 (vs "The Broncos"); q2: EM 0, F1 max(2*.5*1/1.5, same) = 2/3; q3 missing -> 0
    assert result["exact"] == pytest.approx(100 / 3)
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)
    assert result["total"] == 3 and result["missing"] == 1


def test_squad_v2_no_answer_handling():
    refs = {"a1": ["Paris"], "a2": ["Rome"], "n1": [], "n2": []}
    preds = {"a1": "Paris", "a2": "", "n1": "", "n2": "somewhere"}
    result = m.squad_metrics(preds, refs, version="2.0")
    assert result["HasAns_exact"] == 50.0 and result["HasAns_total"] == 2
    assert result["NoAns_exact"] == 50.0 and result["NoAns_f1"] == 50.0 and result["NoAns_total"] == 2
    assert result["exact"] == 50.0 and result["f1"] == 50.0


def test_squad_v2_best_threshold_by_hand():
    refs = {"a1": ["Paris"], "a2": ["Rome"], "n1": [], "n2": []}
    answers = {"a1": "Paris", "a2": "Milan", "n1": "x", "n2": "y"}
    null = {"a1": -3.0, "n1": -1.0, "a2": 0.5, "n2": 2.0}
    # answered in order of null score: start 2 (both NoAns right); a1 +1 -> 3 (best, thresh -3); n1 -1 -> 2;
    # a2 +0 -> 2; n2 -1 -> 1. Best: answer only a1 -> EM 3/4.
    best = m.best_null_thresholds(answers, null, refs)
    assert best["best_exact"] == 75.0 and best["best_exact_thresh"] == -3.0
    assert best["best_f1"] == 75.0 and best["best_f1_thresh"] == -3.0
    # when every answer is wrong, answering nothing is best: the threshold is below every null score
    wrong = m.best_null_thresholds({"a1": "Lyon", "n1": ""}, {"a1": 0.0, "n1": 5.0}, {"a1": ["Paris"], "n1": []})
    assert wrong["best_exact"] == 50.0 and wrong["best_exact_thresh"] == -1.0
    # F1 counts partial overlap: "big Paris" vs "Paris" = 2/3
    partial = m.best_null_thresholds({"a1": "big Paris"}, {"a1": 0.0}, {"a1": ["Paris"]})
    assert partial["best_f1"] == pytest.approx(200 / 3) and partial["best_exact"] == 0.0


def test_squad_versions_differ_on_references_that_normalise_to_nothing():
    # v1.1: EM 1 but F1 0 (no tokens); v2.0 drops the empty reference, the empty prediction matches ""
    assert m.squad_metrics({"q": "a"}, {"q": ["the"]}) == {"exact": 100.0, "f1": 0.0, "total": 1.0, "missing": 0.0}
    v2 = m.squad_metrics({"q": "a"}, {"q": ["the"]}, version="2.0")
    assert v2["exact"] == 100.0 and v2["f1"] == 100.0


# --- entity F1 ------------------------------------------------------------------------------------


def test_entity_metrics_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "B-PER"]]
    scores = m.entity_metrics(gold, pred)
    # gold: PER x2, LOC, ORG; pred: PER x2 (both right), ORG x2 (one right)
    assert scores.overall.precision == pytest.approx(75.0)
    assert scores.overall.recall == pytest.approx(75.0)
    assert scores.f1 == pytest.approx(75.0)
    assert scores.per_type["PER"].f1 == 100.0 and scores.per_type["PER"].support == 2
    assert scores.per_type["LOC"].recall == 0.0 and scores.per_type["LOC"].predicted == 0
    org = scores.per_type["ORG"]
    assert (org.precision, org.recall, org.support, org.predicted) == (50.0, 100.0, 1, 2)
    assert org.f1 == pytest.approx(100 * 2 * 0.5 / 1.5)
    assert scores.as_dict()["ORG_precision"] == 50.0


def test_entity_metrics_i_after_o_starts_an_entity():
    # default (conlleval) mode: "I-PER" after "O" is the start of a PER entity
    scores = m.entity_metrics([["O", "B-PER", "I-PER"]], [["O", "I-PER", "I-PER"]])
    assert scores.f1 == 100.0


def _reference_entities(sequences):
    """conlleval chunking written out independently: (type, start, end) over the concatenated sequences."""
    entities, index = set(), 0
    for sequence in sequences:
        start, kind = None, None
        for i, tag in enumerate([*sequence, "O"]):
            prefix, tag_type = (tag[0], tag[2:]) if tag != "O" else ("O", None)
            begins = prefix == "B" or (prefix == "I" and kind != tag_type)
            if start is not None and (prefix == "O" or begins):
                entities.add((kind, index + start, index + i - 1))
                start, kind = None, None
            if prefix != "O" and begins:
                start, kind = i, tag_type
        index += len(sequence) + 1
    return entities


def _prf(gold, pred):
    right = len(gold & pred)
    p = right / len(pred) if pred else 0.0
    r = right / len(gold) if gold else 0.0
    return 100 * p, 100 * r, (200 * p * r / (p + r) if p + r else 0.0)


def test_entity_metrics_match_seqeval_and_conlleval_on_random_sequences():
    from seqeval.metrics import classification_report

    rng = random.Random(0)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    for _ in range(50):
        lengths = [rng.randint(1, 12) for _ in range(rng.randint(1, 6))]
        gold = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        pred = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        scores = m.entity_metrics(gold, pred)
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        assert scores.overall.f1 == pytest.approx(100 * report["micro avg"]["f1-score"])
        for name, per_type in scores.per_type.items():
            assert per_type.precision == pytest.approx(100 * report[name]["precision"])
            assert per_type.recall == pytest.approx(100 * report[name]["recall"])
            assert per_type.f1 == pytest.approx(100 * report[name]["f1-score"])
            assert per_type.support == report[name]["support"]
        ref_gold, ref_pred = _reference_entities(gold), _reference_entities(pred)
        assert (scores.overall.precision, scores.overall.recall, scores.overall.f1) == pytest.approx(
            _prf(ref_gold, ref_pred)
        )
        for name, per_type in scores.per_type.items():
            typed = _prf({e for e in ref_gold if e[0] == name}, {e for e in ref_pred if e[0] == name})
            assert (per_type.precision, per_type.recall, per_type.f1) == pytest.approx(typed)


def test_token_accuracy():
    assert m.token_accuracy([["nn", "vb"], ["at"]], [["nn", "nn"], ["at"]]) == pytest.approx(200 / 3)
    with pytest.raises(ValueError, match="sequence 0"):
        m.token_accuracy([["nn", "vb"]], [["nn"]])
