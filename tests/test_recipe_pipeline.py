"""The real stages end to end on a tiny generated corpus and task: a failing stage stops the run with the
stage named, a re-run resumes after the last complete stage, and the model card documents the result."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import yaml

from wellread.models.fingerprint import fingerprint
from wellread.recipe.package_docs import prose_paragraphs
from wellread.recipe.runner import Runner, StageFailed
from wellread.recipe.schema import parse_recipe
from wellread.recipe.stages import option_types

GOOD = ["good", "great", "fine", "lovely", "happy", "bright", "warm", "kind"]
BAD = ["bad", "awful", "poor", "ugly", "sad", "dark", "cold", "cruel"]
FILLER = ["the", "a", "film", "story", "day", "town", "river", "house", "garden", "friend", "book", "song", "was",
          "is", "and", "very", "quite"]


def sentence(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choice(FILLER + words) for _ in range(rng.randint(6, 12))).capitalize() + "."


def write_data(root: Path) -> None:
    rng = random.Random(0)
    (root / "raw").mkdir(parents=True)
    docs = ["\n".join(sentence(rng, GOOD + BAD) for _ in range(4)) for _ in range(300)]
    (root / "raw" / "docs.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    (root / "micro.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1,
                                                 "num_attention_heads": 2, "intermediate_size": 64}))


def write_task(root: Path) -> None:
    rng = random.Random(1)
    for split, n in (("train", 160), ("dev", 40)):
        with open(root / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            for i in range(n):
                label = ["pos", "neg"][i % 2]
                writer.writerow([sentence(rng, GOOD if label == "pos" else BAD), label])


def recipe(root: Path) -> str:
    return f"""\
name: micro
model_name: micro-bert
out: {root / 'work'}
stages:
  - stage: corpus
    inputs: [{root / 'raw'}]
    snapshot_date: 2026-01-31
    near_dedup: false
  - stage: tokenizer
    vocab_size: 300
  - stage: pack
    max_length: [32]
  - stage: pretrain
    model: {root / 'micro.json'}
    phases: ["32:6"]
    batch_size: 16
    eval_every: 3
    save_every: 3
    bf16: "off"
  - stage: finetune
    name: sentiment
    task: custom
    data: ["train={root / 'train.csv'}", "dev={root / 'dev.csv'}"]
    epochs: 2
    lr: 3.0e-3
    max_length: 32
    bf16: "off"
  - stage: distill
    name: student
    task: custom
    data: ["train={root / 'train.csv'}", "dev={root / 'dev.csv'}"]
    method: prediction
    epochs: 1
    max_length: 32
    bf16: "off"
  - stage: lengthdrop
    name: student-ld
    task: custom
    data: ["train={root / 'train.csv'}", "dev={root / 'dev.csv'}"]
    max_length: 32
    bf16: "off"
  - stage: search
    cost: flops
    iterations: 1
    population: 3
    max_drop: 100
  - stage: export
    int8: false
  - stage: evaluate
    speed_batch_sizes: [1, 4]
    speed_length: 32
    speed_seconds: 0.1
  - stage: card
"""


@pytest.mark.slow
def test_a_failing_stage_stops_the_run_and_a_rerun_resumes_after_it(tmp_path, capsys):
    write_data(tmp_path)
    parsed = parse_recipe(recipe(tmp_path), option_types(), "micro.yaml")
    with pytest.raises(StageFailed) as info:
        Runner(parsed).run()  # the task files do not exist yet
    assert str(info.value).startswith("stage 'sentiment' (5/11, micro.yaml line 20) failed:")
    assert "train.csv" in str(info.value)
    capsys.readouterr()

    write_task(tmp_path)
    records = Runner(parse_recipe(recipe(tmp_path), option_types(), "micro.yaml")).run()
    out = capsys.readouterr().out
    for n, name in enumerate(["corpus", "tokenizer", "pack", "pretrain"], 1):
        assert f"[{n}/11] {name}: already complete, skipped" in out
    assert [r.name for r in records] == ["corpus", "tokenizer", "pack", "pretrain", "sentiment", "student",
                                         "student-ld", "search", "export", "evaluate", "card"]
    assert records[6].inputs["model"] == records[5].outputs["finetuned"]  # lengthdrop trains the distilled model
    assert (tmp_path / "work" / "student-ld" / "length_config.json").is_file()  # the search's choice
    assert (tmp_path / "work" / "student" / "model.onnx").is_file()
    assert records[5].inputs["teacher"] == records[4].outputs["finetuned"]  # the fine-tuned model teaches
    assert records[5].inputs["student"] == records[3].outputs["model"]  # the pretrained one
    assert records[0].details["snapshot_date"] == "2026-01-31"

    card = (tmp_path / "work" / "sentiment" / "README.md").read_text(encoding="utf-8")
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["pipeline_tag"] == "text-classification" and meta["library_name"] == "transformers"
    assert meta["wellread_fingerprint"] == fingerprint(tmp_path / "work" / "sentiment")  # what the card describes
    metrics = {m["type"]: m["value"] for r in meta["model-index"][0]["results"] for m in r["metrics"]}
    assert set(metrics) == {"accuracy", "macro_f1"}
    assert records[4].details["metrics"]["accuracy"] == pytest.approx(metrics["accuracy"], abs=0.01)
    for section in ("## ONNX", "## Model", "## Training data", "**2026-01-31**", "## Training recipe", "## Evaluation",
                    "majority baseline", "## Speed", "## Intended uses", "## Limitations", "## How to use"):
        assert section in body
    assert "(its teacher)" in (tmp_path / "work" / "student" / "README.md").read_text()
    pretrained = yaml.safe_load((tmp_path / "work" / "pretrain" / "README.md").read_text().split("---\n")[1])
    assert pretrained["pipeline_tag"] == "fill-mask"


def test_prose_paragraphs_keep_prose_and_drop_code_fields_and_markup():
    doc = """Compute the :func:`mean` of ``x`` along an axis, as described in the `guide <https://x.y>`_.

    Parameters
    ----------
    x : array_like
        The input.

    Examples
    --------
    >>> mean([1, 2])
    1.5

    Args:
        x (Tensor): the input tensor of any shape at all here.

    Short.
    """
    assert prose_paragraphs(doc) == ["Compute the mean of x along an axis, as described in the guide."]


def test_package_docs_writes_text_and_a_topic_task_whose_dev_files_stay_out_of_the_text(tmp_path):
    from wellread.recipe.package_docs import write_package_docs

    report = write_package_docs(tmp_path, words_per_package=3000, train_per_label=20, dev_per_label=5,
                                dev_permille=300, packages=("networkx", "matplotlib"))
    assert report.labels == ["graphs", "plotting"]
    assert report.packages["networkx"]["words"] >= 3000 and report.packages["networkx"]["version"]
    rows = {split: list(csv.DictReader((tmp_path / "topics" / f"{split}.csv").read_text().splitlines()))
            for split in ("train", "dev")}
    assert {r["label"] for r in rows["train"]} == {"graphs", "plotting"}
    assert 0 < len(rows["dev"]) <= 10 and len(rows["train"]) <= 40
    text = " ".join((tmp_path / "text" / f"{p}.txt").read_text() for p in ("networkx", "matplotlib"))
    assert not any(r["text"] in text for r in rows["dev"])  # held-out files never reach the pretraining text
    assert not any("networkx" in r["text"].lower() or "matplotlib" in r["text"].lower() for r in rows["train"])
