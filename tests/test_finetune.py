"""Fine-tuning and evaluation: task features, QA decoding, batch order, and short CLI runs for every task family.

Fixtures: GLUE-style TSV folders and CSV files written here, SQuAD JSON and CoNLL files from helpers.py; models
are tiny random BERTs with the all-MiniLM-L6-v2 vocabulary.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as hf
from helpers import NEGATIVE, POSITIVE, conll, run_cli, save_tiny, spawn_ddp, squad_json, write, write_sst2

import wellread.models.folder
from wellread.cli import main
from wellread.finetune import ClassificationTask, TaggingTask, length_grouped_order, load_task_data
from wellread.finetune.grid import finetune
from wellread.finetune.run import FinetuneOptions
from wellread.finetune.tagging import IGNORE
from wellread.models.checkpoint import load_model, save_model
from wellread.tasks import TaggedSentence
from wellread.tasks.qa_features import answer_tokens, best_spans, build_features, decode_answer
from wellread.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tok) -> Path:
    """A random 2-layer BERT (no head) with the MiniLM vocabulary."""
    return save_tiny(tmp_path_factory.mktemp("tiny") / "model", tok)


@pytest.fixture(scope="module")
def glue(tmp_path_factory) -> Path:
    """SST-2, STS-B, RTE and MNLI folders in the GLUE layout."""
    root = tmp_path_factory.mktemp("glue")
    write_sst2(root / "SST-2")
    rng = random.Random(0)
    for split, n in (("train", 48), ("dev", 20)):
        pairs = [(rng.choice(POSITIVE), rng.choice(POSITIVE + NEGATIVE)) for _ in range(n)]
        write(root / "STS-B" / f"{split}.tsv", "index\tsentence1\tsentence2\tscore\n"
              + "".join(f"{i}\t{a}\t{b}\t{rng.uniform(0, 5):.2f}\n" for i, (a, b) in enumerate(pairs)))
        labels = ["entailment", "not_entailment"]
        write(root / "RTE" / f"{split}.tsv", "index\tsentence1\tsentence2\tlabel\n"
              + "".join(f"{i}\t{a}\t{b}\t{labels[i % 2]}\n" for i, (a, b) in enumerate(pairs)))
    nli = ("contradiction", "entailment", "neutral")
    for name in ("train", "dev_matched", "dev_mismatched"):
        write(root / "MNLI" / f"{name}.tsv", "index\tgenre\tsentence1\tsentence2\tgold_label\n" + "".join(
            f"{i}\tfiction\t{rng.choice(POSITIVE)}\t{rng.choice(NEGATIVE)}\t{nli[i % 3]}\n" for i in range(30)))
    return root


def losses(out: Path) -> list[float]:
    return [r["loss"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if r["type"] == "train"]


# --- batch order and features ---------------------------------------------------------------------


def test_length_grouped_order_is_a_permutation_of_grouped_batches() -> None:
    lengths = np.random.default_rng(0).integers(3, 200, size=1003)
    order = length_grouped_order(lengths, 16, torch.Generator().manual_seed(0), megabatch=8)
    assert sorted(order) == list(range(1003))
    batches = [order[i:i + 16] for i in range(0, 1003, 16)]
    assert len(batches[-1]) == 1003 % 16  # the short batch is last
    spread = np.mean([np.ptp(lengths[b]) for b in batches[:-1]])
    random_spread = np.mean([np.ptp(lengths[i:i + 16]) for i in range(0, 992, 16)])
    assert spread < random_spread / 4  # similar lengths batched together
    again = length_grouped_order(lengths, 16, torch.Generator().manual_seed(0), megabatch=8)
    other = length_grouped_order(lengths, 16, torch.Generator().manual_seed(1), megabatch=8)
    assert again == order and other != order
    from wellread.finetune.base import FinetuneTask

    task = FinetuneTask(tokenizer=None, batch_size=16)  # type: ignore[arg-type]
    task.lengths, task.group_by_length = lengths, False  # --no-length-grouping: a plain permutation
    plain = task.order(0, torch.Generator().manual_seed(0))
    assert sorted(plain) == list(range(1003)) and plain != order


def test_logs_name_evaluation_sets_by_their_split(glue, tmp_path) -> None:
    assert load_task_data("stsb", [glue]).describe() == "stsb: train 48, dev 20"
    assert load_task_data("mnli", [glue / "MNLI"]).describe() == "mnli: train 30, dev_matched 30, dev_mismatched 30"
    csv = write(tmp_path / "x.csv", "text,label\n" + "a film,pos\nno film,neg\n" * 3)
    assert load_task_data("custom", [f"train={csv}", f"dev={csv}"]).describe() == "custom: train 6, dev 6"
    evaluated = load_task_data("custom", [f"test={csv}"], train=False, split="test", labels=["neg", "pos"])
    assert evaluated.describe() == "custom: train 0, test 6"


def test_classification_collate_pads_dynamically(tok, glue) -> None:
    data = load_task_data("rte", [glue / "RTE"])
    task = ClassificationTask(data, tok, max_length=64, batch_size=4)
    batch = task.collate([0, 1, 2], seed=0)
    longest = max(task.lengths[[0, 1, 2]])
    assert batch["input_ids"].shape == (3, longest)
    assert batch["attention_mask"].sum(1).tolist() == task.lengths[[0, 1, 2]].tolist()
    assert batch["token_type_ids"].max() == 1  # sentence pairs
    assert batch["labels"].tolist() == [data.labels.index(data.train[i].label) for i in range(3)]


def test_qa_positions_map_back_to_the_answer_through_offsets(tok, tmp_path) -> None:
    examples = load_task_data("squad", [f"train={squad_json(tmp_path / 'a.json')}", f"dev={tmp_path / 'a.json'}"]).train
    features = build_features(tok, examples, max_length=48, doc_stride=16)
    in_later_window = 0
    for f in range(len(features)):
        ex = examples[features.example[f]]
        start, end = int(features.starts[f]), int(features.ends[f])
        if start == 0:
            assert end == 0
            continue
        off = features.offsets[f]
        assert ex.context[off[start, 0]:off[end, 1]] == ex.answers[0].text
        first_window = np.flatnonzero(features.example == features.example[f])[0]
        in_later_window += f != first_window
    assert in_later_window > 0  # answers late in the context are found in the second or a later window
    for i in range(len(examples)):  # every answerable example has a window that holds its answer
        assert (features.starts[features.example == i] > 0).any()


def test_qa_v2_impossible_questions_target_cls(tok, tmp_path) -> None:
    examples = load_task_data("squad", [squad_json(tmp_path / "v2.json", impossible=True)] * 2).train
    features = build_features(tok, examples, max_length=48, doc_stride=16)
    impossible = [i for i, ex in enumerate(examples) if ex.is_impossible]
    assert impossible
    mask = np.isin(features.example, impossible)
    assert (features.starts[mask] == 0).all() and (features.ends[mask] == 0).all()


def test_answer_tokens_needs_the_whole_span_in_the_window() -> None:
    offsets = np.array([[-1, -1], [0, 3], [4, 9], [10, 12], [-1, -1]])
    assert answer_tokens(offsets, 4, 12) == (2, 3)
    assert answer_tokens(offsets, 5, 8) == (2, 2)  # inside one token
    assert answer_tokens(offsets, 10, 20) == (0, 0)  # runs past the window


def test_n_best_decoding_on_hand_made_logits() -> None:
    context = "alpha beta gamma delta"
    offsets = np.array([[-1, -1], [-1, -1], [0, 5], [6, 10], [11, 16], [17, 22], [-1, -1]])  # [CLS] q ctx x4 [SEP]
    start = np.array([0.0, 9.0, 1.0, 3.0, 0.5, 2.0, 9.0])  # the question and [SEP] score high but are not context
    end = np.array([0.0, 9.0, 0.0, 1.0, 4.0, 2.5, 9.0])
    spans = best_spans(start, end, offsets, n_best=5, max_answer_length=30)
    assert (spans[0].start, spans[0].end) == (3, 4)  # 3 + 4 = 7: "beta gamma"
    assert all(s.start <= s.end for s in spans) and len(spans) == 5
    assert [(s.start, s.end) for s in best_spans(start, end, offsets, 5, max_answer_length=1)][0] == (5, 5)
    answer = decode_answer(context, [(start, end, offsets)])
    assert answer.text == "beta gamma" and answer.start == 6
    second = (start - 5, end - 5, offsets)  # a worse window: the answer comes from the best one
    assert decode_answer(context, [second, (start, end, offsets)]).text == "beta gamma"
    null = start.copy()
    null[0] = 20.0  # [CLS] beats every span
    assert decode_answer(context, [(null, end, offsets)], allow_no_answer=True).text == ""
    assert decode_answer(context, [(null, end, offsets)], allow_no_answer=False).text == "beta gamma"
    assert decode_answer(context, [(null, end, offsets)], allow_no_answer=True, null_threshold=100).text


def test_ner_labels_only_on_first_subwords(tok, tmp_path) -> None:
    data = load_task_data("ner", [conll(tmp_path / "train.txt"), tmp_path / "train.txt"])
    task = TaggingTask(data, tok, max_length=64)
    sentence = data.train[0]
    labels = task.labels[0]
    tokens = tok.encode(" ".join(sentence.tokens)).tokens
    assert labels[0] == IGNORE and labels[-1] == IGNORE  # [CLS], [SEP]
    labelled = [(t, data.labels[y]) for t, y in zip(tokens, labels, strict=True) if y != IGNORE]
    assert [tag for _, tag in labelled] == sentence.tags  # one label per word, in order
    assert all(not t.startswith("##") for t, _ in labelled)
    pieces = tok.tokenize("KwaZulu-Natal")
    assert len(pieces) > 1
    start = tokens.index(pieces[0])
    assert labels[start] == data.labels.index("B-LOC")
    assert (labels[start + 1:start + len(pieces)] == IGNORE).all()


def test_tagging_words_cut_off_are_predicted_o(tok, tiny) -> None:
    sentence = TaggedSentence(["Thabo"] * 40, ["B-PER"] * 40)
    from wellread.finetune.data import TaskData

    data = TaskData("ner", "tagging", [sentence], {"ner": [sentence]}, ["O", "B-PER", "I-PER"])
    task = TaggingTask(data, tok, max_length=16)
    model, _ = load_model(tiny, "token-classification", labels=data.labels)
    report = task.score(model.eval())
    assert report.predictions["ner"][0][14:] == ["O"] * 26  # 14 words fit beside [CLS] and [SEP]


# --- CLI runs -------------------------------------------------------------------------------------

COMMON = ("--max-steps", "3", "--batch-size", "8", "--no-progress", "--bf16", "off", "--save-every", "0")


@pytest.mark.slow
def test_finetune_sst2_writes_a_folder_transformers_loads(tiny, glue, tmp_path, tok) -> None:
    out = tmp_path / "sst2"
    assert run_cli("finetune", "--model", tiny, "--task", "SST-2", "--data", glue, "--out", out, *COMMON) == 0
    assert len(losses(out)) == 1 and all(math.isfinite(x) for x in losses(out))
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) == {"sst2_acc"} and "sst2_acc" in results["baselines"]
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "0", "1": "1"} and config["label2id"] == {"0": 0, "1": 1}
    assert config["problem_type"] == "single_label_classification"
    assert not (out / "checkpoint").exists() and not (out / "best").exists()
    theirs = hf.AutoModelForSequenceClassification.from_pretrained(out).eval()
    ours, _ = load_model(out)
    enc = hf.AutoTokenizer.from_pretrained(out)(["a great film", "i hated it , truly"], padding=True,
                                               return_tensors="pt")
    with torch.no_grad():
        expected = theirs(**enc).logits
        got = ours(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_finetune_regression_and_mnli_both_dev_sets(tiny, glue, tmp_path) -> None:
    out = tmp_path / "stsb"
    assert run_cli("finetune", "--model", tiny, "--task", "stsb", "--data", glue, "--out", out, *COMMON) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) == {"stsb_pear", "stsb_spear"}
    assert json.loads((out / "config.json").read_text())["problem_type"] == "regression"
    assert hf.AutoModelForSequenceClassification.from_pretrained(out).config.num_labels == 1
    out = tmp_path / "mnli"
    assert run_cli("finetune", "--model", tiny, "--task", "mnli", "--data", glue / "MNLI", "--out", out,
                   *COMMON) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) == {"mnli_acc", "mnli_acc_mm"}
    assert set(results["details"]) == {"mnli", "mnli-mm"}
    assert results["labels"] == ["contradiction", "entailment", "neutral"]


@pytest.mark.slow
def test_finetune_qa_v1_and_v2(tiny, tmp_path) -> None:
    train, dev = squad_json(tmp_path / "train.json"), squad_json(tmp_path / "dev.json", n=4)
    out = tmp_path / "qa"
    assert run_cli("finetune", "--model", tiny, "--task", "squad", "--data", f"train={train}", f"dev={dev}",
                   "--out", out, "--max-length", "48", "--doc-stride", "16", *COMMON) == 0
    assert all(math.isfinite(x) for x in losses(out))
    results = json.loads((out / "results.json").read_text())
    assert {"exact", "f1"} <= set(results["metrics"])
    predictions = json.loads((out / "predictions.json").read_text())
    assert sorted(predictions) == [f"q{i}" for i in range(4)]
    assert hf.AutoModelForQuestionAnswering.from_pretrained(out)
    v2 = squad_json(tmp_path / "v2.json", impossible=True, n=4)
    out = tmp_path / "qa2"
    assert run_cli("finetune", "--model", tiny, "--task", "squad", "--data", v2, v2, "--out", out,
                   "--max-length", "48", "--doc-stride", "16", *COMMON) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["details"]["squad"]["version"] == "2.0" and "HasAns_f1" in results["metrics"]
    assert results["metrics"]["best_f1"] >= results["metrics"]["f1"] and "best_f1_thresh" in results["metrics"]
    assert (out / "predictions_na_probs.json").is_file()


@pytest.mark.slow
def test_finetune_ner_and_pos(tiny, tmp_path) -> None:
    data = conll(tmp_path / "conll" / "train.txt")
    conll(tmp_path / "conll" / "valid.txt", repeat=2)
    out = tmp_path / "ner"
    assert run_cli("finetune", "--model", tiny, "--task", "ner", "--data", data.parent, "--out", out, *COMMON) == 0
    assert all(math.isfinite(x) for x in losses(out))
    results = json.loads((out / "results.json").read_text())
    assert {"precision", "recall", "f1", "PER_f1", "LOC_f1", "accuracy"} <= set(results["metrics"])
    assert set(results["details"]["ner"]["per_type"]) <= {"PER", "LOC", "ORG", "MISC"}
    model = hf.AutoModelForTokenClassification.from_pretrained(out)
    assert model.config.id2label[0] == "O" and len(model.config.id2label) == 9
    out = tmp_path / "pos"
    assert run_cli("finetune", "--model", tiny, "--task", "pos", "--data", data.parent, "--out", out, *COMMON) == 0
    assert set(json.loads((out / "results.json").read_text())["metrics"]) == {"accuracy"}


@pytest.mark.slow
def test_finetune_custom_csv_then_evaluate_and_predict(tiny, tmp_path, capsys) -> None:
    rows = [(t, "pos") for t in POSITIVE] + [(t, "neg") for t in NEGATIVE]
    csv = "id,review,stars\n" + "".join(f"r{i},\"{t}\",{y}\n" for i, (t, y) in enumerate(rows * 3))
    train, dev = write(tmp_path / "train.csv", csv), write(tmp_path / "dev.csv", csv)
    out = tmp_path / "custom"
    assert run_cli("finetune", "--model", tiny, "--task", "custom", "--data", f"train={train}", f"dev={dev}",
                   "--text-column", "review", "--label-column", "stars", "--out", out, *COMMON) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) == {"accuracy", "macro_f1"} and results["labels"] == ["neg", "pos"]
    capsys.readouterr()
    assert run_cli("evaluate", "--model", out, "--task", "custom", "--data", dev, "--text-column", "review",
                   "--label-column", "stars", "--output", tmp_path / "eval.json", "--bf16", "off") == 0
    again = json.loads((tmp_path / "eval.json").read_text())
    assert again["metrics"] == pytest.approx(results["metrics"])
    inputs = write(tmp_path / "in.jsonl", "".join(json.dumps({"id": i, "text": t}) + "\n"
                                                  for i, (t, _) in enumerate(rows)))
    assert run_cli("predict", "--model", out, "--input", inputs, "--output", tmp_path / "pred.jsonl",
                   "--backend", "torch") == 0
    lines = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == list(range(len(rows)))
    for line in lines:
        assert set(line["scores"]) == {"neg", "pos"} and sum(line["scores"].values()) == pytest.approx(1.0)
        assert line["score"] == max(line["scores"].values()) == line["scores"][line["label"]]
    accuracy = 100 * np.mean([line["label"] == y for line, (_, y) in zip(lines, rows, strict=True)])
    assert accuracy == pytest.approx(results["metrics"]["accuracy"])  # dev is these rows, three times
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["details"]["custom"]["examples"] == len(rows) * 3


@pytest.mark.slow
def test_predict_text_lines_tagging_and_qa(tiny, tmp_path, capsys) -> None:
    data = conll(tmp_path / "conll" / "train.txt")
    conll(tmp_path / "conll" / "valid.txt", repeat=1)
    ner = tmp_path / "ner"
    assert run_cli("finetune", "--model", tiny, "--task", "ner", "--data", data.parent, "--out", ner, *COMMON) == 0
    write(tmp_path / "text.txt", "Thabo Mbeki visited Durban .\nAcme hired Zuma\n")
    capsys.readouterr()
    assert run_cli("predict", "--model", ner, "--input", tmp_path / "text.txt", "--backend", "torch") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    texts = ["Thabo Mbeki visited Durban .", "Acme hired Zuma"]
    assert [[w["word"] for w in line["words"]] for line in lines] == [t.split() for t in texts]
    labels = set(json.loads((ner / "config.json").read_text())["id2label"].values())
    for text, line in zip(texts, lines, strict=True):
        assert [w["index"] for w in line["words"]] == list(range(len(text.split())))
        assert all(text[w["start"]:w["end"]] == w["word"] and w["tag"] in labels and 0 < w["score"] <= 1
                   for w in line["words"])
        assert all(text[e["start"]:e["end"]] == e["text"] for e in line["entities"])
    train = squad_json(tmp_path / "train.json", n=4)
    qa = tmp_path / "qa"
    assert run_cli("finetune", "--model", tiny, "--task", "squad", "--data", train, train, "--out", qa,
                   "--max-length", "48", "--doc-stride", "16", *COMMON) == 0
    context = "the ship was steered by captain nemo ."
    write(tmp_path / "q.jsonl", json.dumps({"question": "who steered ?", "context": context}) + "\n")
    capsys.readouterr()
    assert run_cli("predict", "--model", qa, "--input", tmp_path / "q.jsonl", "--max-length", "48",
                   "--doc-stride", "16") == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"answer", "start", "end", "score"} and 0 < answer["score"] <= 1
    assert answer["answer"] and answer["answer"] == context[answer["start"]:answer["end"]]


def test_degenerate_model_is_flagged_loudly(tiny, glue, tmp_path, capsys, monkeypatch) -> None:
    model, _ = load_model(tiny, "sequence-classification", labels=["0", "1"],
                          problem_type="single_label_classification")
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0]))  # always "1"
    folder = save_model(model, tmp_path / "constant", Tokenizer.load(tiny))
    capsys.readouterr()
    reads = []
    monkeypatch.setattr(wellread.models.folder, "load_config",
                        lambda path, load=wellread.models.folder.load_config: reads.append(path) or load(path))
    assert run_cli("evaluate", "--model", folder, "--task", "sst2", "--data", glue / "SST-2", "--output",
                   tmp_path / "eval.json") == 0
    assert reads == [folder]  # the model folder is read once
    captured = capsys.readouterr()
    assert "WARNING" in captured.err and "degenerate model" in captured.err
    assert "majority-class baseline 50.00" in captured.out
    results = json.loads((tmp_path / "eval.json").read_text())
    assert results["warnings"] and results["details"]["sst2"]["degenerate"]
    assert results["metrics"]["sst2_acc"] == results["baselines"]["sst2_acc"] == 50.0


@pytest.mark.slow
def test_grid_records_every_run_and_resumes(tiny, glue, tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "grid"
    grid = ("finetune", "--model", tiny, "--task", "rte", "--data", glue / "RTE", "--out", out, "--grid",
            "--grid-batch-sizes", "8,16", "--grid-lrs", "1e-4", "--max-steps", "3", "--no-progress", "--bf16", "off",
            "--save-every", "1")
    from wellread.train.loop import Trainer

    original = Trainer.train_step
    calls = {"n": 0}

    def interrupted(self):  # the second run stops after 2 of its 3 steps
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    assert run_cli(*grid) == 130
    assert len((out / "grid.jsonl").read_text().splitlines()) == 1
    assert (out / "runs" / "bs16-lr0.0001" / "checkpoint" / "trainer_state.json").is_file()
    monkeypatch.setattr(Trainer, "train_step", original)
    capsys.readouterr()
    assert run_cli(*grid) == 0
    printed = capsys.readouterr().out
    assert "bs8-lr0.0001 already recorded" in printed
    assert "resumed from" in printed and "at step 2/3" in printed
    records = [json.loads(line) for line in (out / "grid.jsonl").read_text().splitlines()]
    assert [(r["batch_size"], r["lr"]) for r in records] == [(8, 1e-4), (16, 1e-4)]
    assert "| batch | lr | rte_acc |" in printed and "best rte_acc" in printed
    summary = json.loads((out / "results.json").read_text())
    assert summary["best"]["metrics"] == max((r["metrics"] for r in records), key=lambda m: m["rte_acc"])
    assert hf.AutoModelForSequenceClassification.from_pretrained(out).config.id2label[0] == "entailment"
    assert not (out / "runs" / "bs8-lr0.0001" / "model.safetensors").exists()
    assert (out / "runs" / "bs8-lr0.0001" / "written_by.json").is_file()  # what wrote its results stays known
    (out / "grid.jsonl").write_text("")  # records lost: the same grid runs into its own folders again
    assert run_cli(*grid) == 0
    other = ("finetune", "--model", tiny, "--task", "sst2", "--data", glue / "SST-2", "--out", out, "--grid",
             *grid[9:])
    assert run_cli(*other) == 2  # an RTE grid's folder is not an SST-2 grid's
    assert run_cli(*other, "--overwrite") == 0
    assert {json.loads(line)["metrics"].keys() == {"sst2_acc"} for line in (out / "grid.jsonl").open()} == {True}


@pytest.mark.slow
def test_glue_command_prints_the_model_card_table(tiny, glue, tmp_path, capsys) -> None:
    out = tmp_path / "glue"
    assert run_cli("glue", "--model", tiny, "--data", glue, "--out", out, "--tasks", "sst2,rte", *COMMON) == 0
    printed = capsys.readouterr().out
    assert "|Model|Score|CoLA|SST-2|MRPC|STS-B|QQP|MNLI-m|MNLI-mm|QNLI(v2)|RTE|WNLI|" in printed
    assert "|majority class|50.0|" in printed
    summary = json.loads((out / "glue_results.json").read_text())
    assert set(summary["metrics"]) == {"sst2_acc", "rte_acc"}
    assert summary["score"] == pytest.approx((summary["metrics"]["sst2_acc"] + summary["metrics"]["rte_acc"]) / 2)
    assert json.dumps(summary["metrics"]) in printed


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_bad_inputs_give_clear_errors(tiny, glue, tmp_path, capsys) -> None:
    assert run_cli("finetune", "--model", tiny, "--task", "sst3", "--data", glue, "--out", tmp_path / "x") == 2
    assert "unknown task 'sst3'" in capsys.readouterr().err
    assert run_cli("finetune", "--model", tiny, "--task", "cola", "--data", glue, "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert "no train file for cola" in err and "CoLA/train.tsv" in err
    assert run_cli("finetune", "--model", tiny, "--task", "ner", "--data", glue, "--out", tmp_path / "x") == 2
    assert "looked for train.txt" in capsys.readouterr().err
    assert run_cli("finetune", "--model", tiny, "--task", "squad", "--data", f"train={tmp_path / 'nope.json'}",
                   "--out", tmp_path / "x") == 2
    assert "nope.json does not exist" in capsys.readouterr().err
    assert run_cli("finetune", "--model", tmp_path / "no-model", "--task", "sst2", "--data", glue,
                   "--out", tmp_path / "x") == 2
    assert "no model folder" in capsys.readouterr().err
    sst2 = tmp_path / "sst2"
    assert run_cli("finetune", "--model", tiny, "--task", "sst2", "--data", glue, "--out", sst2, *COMMON) == 0
    capsys.readouterr()
    assert run_cli("evaluate", "--model", sst2, "--task", "rte", "--data", glue / "RTE") == 2
    assert "predicts the labels ['0', '1'] but rte needs the labels" in capsys.readouterr().err
    assert run_cli("finetune", "--model", sst2, "--task", "rte", "--data", glue, "--out", tmp_path / "y",
                   *COMMON) == 2
    assert "--new-head" in capsys.readouterr().err
    assert run_cli("finetune", "--model", sst2, "--task", "rte", "--data", glue, "--out", tmp_path / "y",
                   "--new-head", *COMMON) == 0
    assert run_cli("evaluate", "--model", sst2, "--task", "squad", "--data", glue) == 2
    assert "needs a question-answering model" in capsys.readouterr().err
    assert run_cli("finetune", "--model", tiny, "--task", "rte", "--data", glue, "--out", tmp_path / "z", "--grid",
                   "--grid-lrs", "fast") == 2
    assert "--grid-lrs" in capsys.readouterr().err


def test_checkpoint_with_the_same_labels_in_another_order_is_reordered(tiny, glue, tmp_path) -> None:
    model, _ = load_model(tiny, "sequence-classification", labels=["not_entailment", "entailment"],
                          problem_type="single_label_classification")
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([1.0, 2.0]))
    folder = save_model(model, tmp_path / "flipped", Tokenizer.load(tiny))
    from wellread.finetune import load_for_task

    data = load_task_data("rte", [glue / "RTE"])
    reordered = load_for_task(str(folder), data, quiet=True)
    assert reordered.config.id2label == {0: "entailment", 1: "not_entailment"}
    assert reordered.classifier.bias.tolist() == [2.0, 1.0]


@pytest.mark.parametrize("command", ["finetune", "glue", "evaluate", "predict"])
def test_help_teaches(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "Examples:" in capsys.readouterr().out


# --- real data ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.data
def test_real_files_run_end_to_end(tiny, data_path, tmp_path) -> None:
    """Two steps on real SST-2, SQuADShifts and CoNLL-2003 subsets: the readers and features fit real files."""
    runs = [("sst2", [data_path("glue/SST-2")]),
            ("squad", [f"train={data_path('qa/squadshifts_new_wiki_train.json')}",
                       f"dev={data_path('qa/squadshifts_new_wiki_dev.json')}"]),
            ("ner", [data_path("conll2003")])]
    for task, data in runs:
        out = tmp_path / task
        assert run_cli("finetune", "--model", tiny, "--task", task, "--data", *data, "--out", out,
                       "--train-limit", "32", "--dev-limit", "16", "--max-steps", "2", "--batch-size", "8",
                       "--no-progress", "--save-every", "0") == 0
        assert all(math.isfinite(x) for x in losses(out))


@pytest.mark.slow
def test_two_process_finetuning_matches_one_process(tok, glue, tmp_path) -> None:
    """torchrun-style DDP (gloo, 2 processes x batch 4) = one process with 2 accumulated micro-batches of 4."""
    model = save_tiny(tmp_path / "model", tok, dropout=0.0)
    common = dict(model=str(model), task="sst2", data=[str(glue / "SST-2")], epochs=2, batch_size=8, lr=1e-3,
                  bf16="off", save_every=0, eval_every=3, progress=False, seed=3)
    single = finetune(FinetuneOptions(out=tmp_path / "single", grad_accum=2, **common))
    spawn_ddp(finetune, FinetuneOptions(out=tmp_path / "ddp", **common))
    ddp = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert losses(tmp_path / "ddp") == pytest.approx(losses(tmp_path / "single"), rel=1e-5)
    assert ddp["steps"] == single["steps"] == 12 and ddp["best_step"] == single["best_step"]
    assert ddp["metrics"] == pytest.approx(single["metrics"])
    assert len([r for r in ddp["history"] if "sst2_acc" in r]) == 4  # steps 3, 6, 9, 12


@pytest.mark.slow
def test_finetuning_a_shortened_model_trains_and_saves_at_full_length(tiny, glue, tmp_path) -> None:
    """A searched length_config.json belongs to the weights it was searched on: not carried into a new run."""
    from wellread.models.length import LengthConfig, save_length_config

    source = tmp_path / "shortened"
    shutil.copytree(tiny, source)
    save_length_config(LengthConfig((1.0, 0.5)), source)
    assert load_model(source)[0].length_config is not None
    out = tmp_path / "sst2"
    assert run_cli("finetune", "--model", source, "--task", "sst2", "--data", glue / "SST-2", "--out", out,
                   *COMMON) == 0
    assert not (out / "length_config.json").exists() and load_model(out)[0].length_config is None


@pytest.mark.slow
def test_out_holding_another_model_needs_overwrite_and_resume_keeps_its_options(tiny, glue, tmp_path, capsys,
                                                                                monkeypatch) -> None:
    out = tmp_path / "out"
    assert run_cli("finetune", "--model", tiny, "--task", "mnli", "--data", glue / "MNLI", "--out", out, *COMMON) == 0
    capsys.readouterr()
    sst2 = ("finetune", "--model", tiny, "--task", "SST-2", "--data", glue / "SST-2", "--out", out, *COMMON[:-2])
    assert run_cli(*sst2) == 2  # a 3-label MNLI model is not replaced by an SST-2 one silently
    err = capsys.readouterr().err
    assert "holds the output of another run: task 'mnli' (this run: 'sst2')" in err and "--overwrite" in err
    assert len(json.loads((out / "config.json").read_text())["id2label"]) == 3
    from wellread.train.loop import Trainer

    original, calls = Trainer.train_step, {"n": 0}

    def interrupted(self):  # stops in step 3, after the step-2 checkpoint
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    assert run_cli(*sst2, "--overwrite", "--save-every", "1") == 130
    monkeypatch.setattr(Trainer, "train_step", original)
    assert not (out / "config.json").exists()  # the old model is gone, not left beside the new run's log
    capsys.readouterr()
    assert run_cli(*sst2, "--save-every", "1", "--resume", "--lr", "5e-5", "--seed", "3") == 2
    err = capsys.readouterr().err
    assert "--lr 0.0001 in the checkpoint, 5e-05 now" in err and "--seed 0 in the checkpoint, 3 now" in err
    assert run_cli(*sst2, "--save-every", "2", "--resume", "--eval-batch-size", "16") == 0
    results = json.loads((out / "results.json").read_text())
    assert results["resumed"]["changed"] == {"eval_batch_size": {"checkpoint": 64, "now": 16},
                                             "save_every": {"checkpoint": 1, "now": 2}}
    assert results["options"]["eval_batch_size"] == 16 and results["lr"] == 1e-4
