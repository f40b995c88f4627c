"""`wellread evaluate --task sts`: zero-shot similarity read from STS-B, SICK and custom layouts, scored as cosine of
the embed pipeline's vectors against the gold scores (scipy's Spearman and Pearson), beside a bag-of-words cosine."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli, save_tiny, write
from scipy import stats

from wellread.infer import load_pipeline
from wellread.tasks.sts import bag_of_words_cosine, cosine_rows

WORDS = ["a", "man", "woman", "dog", "cat", "plays", "guitar", "runs", "sleeps", "in", "the", "park", "on", "stage",
         "quickly"]
STSB_HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
SICK_HEADER = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"


def pairs(n: int = 24, seed: int = 0) -> list[tuple[str, str, float]]:
    rng = random.Random(seed)
    return [(" ".join(rng.choices(WORDS, k=rng.randint(3, 9))), " ".join(rng.choices(WORDS, k=rng.randint(3, 9))),
             round(rng.uniform(0, 5), 2)) for _ in range(n)]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory, tok) -> Path:
    return save_tiny(tmp_path_factory.mktemp("sts") / "enc", tok, head="base", dropout=0.0)


def expected(encoder: Path, data: list[tuple[str, str, float]]) -> tuple[float, float, float, float]:
    """(spearman, pearson, bag-of-words spearman, bag-of-words pearson) x100 computed independently."""
    pipe = load_pipeline(encoder, backend="torch")
    a, b = pipe.embed([p[0] for p in data]), pipe.embed([p[1] for p in data])
    cos = [float(np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y)) for x, y in zip(a, b, strict=True)]
    gold = [p[2] for p in data]
    bow = bag_of_words_cosine([p[0] for p in data], [p[1] for p in data])
    return (100 * stats.spearmanr(cos, gold)[0], 100 * stats.pearsonr(cos, gold)[0],
            100 * stats.spearmanr(bow, gold)[0], 100 * stats.pearsonr(bow, gold)[0])


def evaluate(encoder: Path, tmp_path: Path, *args: str | Path) -> dict:
    out = tmp_path / "results.json"
    assert run_cli("evaluate", "--task", "sts", "--model", encoder, "--backend", "torch", "--output", out, *args) == 0
    return json.loads(out.read_text())


@pytest.mark.parametrize("layout", ["stsb", "sick-r", "custom"])
def test_metrics_equal_scipy_on_cosines_in_every_layout(encoder: Path, tmp_path: Path, layout: str, capsys) -> None:
    data = pairs()
    if layout == "stsb":
        rows = [f"{i}\tg\tf\ty\t{i}\ts\ts\t{a}\t{b}\t{s}" for i, (a, b, s) in enumerate(data)]
        write(tmp_path / "STS-B" / "dev.tsv", "\n".join([STSB_HEADER, *rows]) + "\n")
        args: list[str | Path] = ["--data", tmp_path]
    elif layout == "sick-r":
        rows = [f"{i}\t{a}\t{b}\t{s}\tNEUTRAL" for i, (a, b, s) in enumerate(data)]
        write(tmp_path / "SICK_trial.txt", "\n".join([SICK_HEADER, *rows]) + "\n")
        args = ["--data", tmp_path]
    else:
        write(tmp_path / "pairs.jsonl", "".join(json.dumps({"q": a, "d": b, "sim": s}) + "\n" for a, b, s in data))
        args = ["--data", f"dev={tmp_path / 'pairs.jsonl'}", "--text-column", "q", "--text-pair-column", "d",
                "--label-column", "sim"]
    results = evaluate(encoder, tmp_path, *args)
    spear, pear, bow_spear, bow_pear = expected(encoder, data)
    assert results["layout"] == layout and results["details"][f"sts ({layout})"]["examples"] == len(data)
    assert results["metrics"] == pytest.approx({"spearman": spear, "pearson": pear}, abs=1e-3)
    assert results["baselines"] == pytest.approx({"spearman": bow_spear, "pearson": bow_pear}, abs=1e-6)
    printed = capsys.readouterr().out
    assert f"spearman                 {spear:8.2f}   (bag-of-words cosine {bow_spear:.2f})" in printed
    assert "sentences/s (torch" in printed


def test_bag_of_words_and_cosine_by_hand() -> None:
    assert bag_of_words_cosine(["A dog, a cat", "x"], ["a DOG", "!!"]) == pytest.approx([3 / 12 ** 0.5, 0])
    rows = cosine_rows(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 0.0]]))
    assert rows == pytest.approx([2 ** -0.5, 0.0])


def test_no_scored_pairs_names_what_was_looked_for(encoder: Path, tmp_path: Path, capsys) -> None:
    write(tmp_path / "train.csv", "text,label\nhello,1\n")
    assert run_cli("evaluate", "--task", "sts", "--model", encoder, "--data", tmp_path) == 2
    err = capsys.readouterr().err
    assert "as stsb" in err and "as sick-r" in err and "--text-pair-column" in err


@pytest.mark.data
@pytest.mark.slow
def test_all_minilm_zero_shot_on_sick_dev(minilm_path: Path, data_path, tmp_path: Path) -> None:
    """The figure in docs/results.md: all-MiniLM-L6-v2 on SICK dev (500 pairs)."""
    results = evaluate(minilm_path, tmp_path, "--data", data_path("sick/SICK_trial.txt").parent)
    assert results["metrics"] == pytest.approx({"spearman": 79.80, "pearson": 84.58}, abs=0.05)
    assert results["baselines"]["spearman"] < results["metrics"]["spearman"] - 10
