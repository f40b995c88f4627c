"""Distillation: the prediction-layer task (mixing, transfer rows, tagging targets across vocabularies), the teacher
cache, the intermediate-layer task (projection trained and saved only when widths differ, resume), augmentation,
and `wellread distill` runs: both stages, chaining, general distillation, mismatched vocabularies.

Fixtures: a GLUE-style SST-2 folder, SQuAD and CoNLL files (helpers.py) and text files; models are tiny random BERTs
with the all-MiniLM-L6-v2 vocabulary (and one with a 24-token vocabulary, for mismatches).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import NEGATIVE, POSITIVE, conll, run_cli, squad_json, tiny_config, write_sst2
from safetensors.torch import load_file
from torch import nn

from wellread.cli import main
from wellread.config import BertConfig
from wellread.distill.augment import Augmenter, AugmentOptions, augment, augmented_examples
from wellread.distill.data import general_inputs, read_transfer
from wellread.distill.intermediate import (
    PROJECTION_FILE,
    LayerDistillTask,
    LayerStudent,
    LayerTerms,
    Sequences,
    layer_losses,
    load_projection,
)
from wellread.distill.layers import uniform_layer_map
from wellread.distill.prediction import DistillTask, merge_batches
from wellread.distill.teacher import LiveTeacher, TeacherCache, TeacherInputs, teacher_rows
from wellread.errors import WellreadError
from wellread.finetune import ClassificationTask, TaggingTask, load_task_data
from wellread.models import HeadOutput, build_model
from wellread.models.bert import EncoderOutput
from wellread.models.checkpoint import load_model, read_state_dict, save_model
from wellread.models.flops import forward_flops
from wellread.tasks.common import Example
from wellread.tasks.tag_features import encode_words
from wellread.tokenizer import Tokenizer
from wellread.train.loop import TrainArgs, Trainer

SMALL_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "great", "film", "dull", "i", "loved", "hated",
               "it", "and", "story", "##s", ",", "the", "acting", "fine", "thin", "terrible", "wonderful", "boring"]
COMMON = ("--batch-size", "8", "--no-progress", "--bf16", "off", "--save-every", "0")


@pytest.fixture(scope="module")
def glue(tmp_path_factory) -> Path:
    """An SST-2 folder: 24 training and 10 dev sentences."""
    return write_sst2(tmp_path_factory.mktemp("glue") / "SST-2", (("train", 24), ("dev", 10)),
                      positive=POSITIVE[:4], negative=NEGATIVE[:4])


@pytest.fixture(scope="module")
def models(tmp_path_factory, tok) -> dict[str, Path]:
    """teacher: 4 layers x 48 wide x 4 heads, fine-tuned-looking (SST-2 labels); student: 2 x 32 x 2, no head;
    same: a student as wide as the teacher; small: a student with a 24-token vocabulary; pretrained: the teacher's
    encoder without a head."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    teacher = build_model(bert_config(tok, 48, 4, 4).with_labels(["0", "1"], "single_label_classification"),
                          "sequence-classification")
    small = Tokenizer(SMALL_VOCAB)
    return {
        "teacher": save_model(teacher, root / "teacher", tok),
        "pretrained": save_model(teacher.base, root / "pretrained", tok),
        "student": save_model(build_model(bert_config(tok), "base"), root / "student", tok),
        "same": save_model(build_model(bert_config(tok, 48, 2, 2), "base"), root / "same", tok),
        "small": save_model(build_model(bert_config(small), "base"), root / "small", small),
    }


def bert_config(tok: Tokenizer, hidden: int = 32, layers: int = 2, heads: int = 2) -> BertConfig:
    """A tiny BERT config with `tok`'s vocabulary and 64 positions."""
    return tiny_config(tok.vocab_size, layers, hidden, heads, max_positions=64)


class FixedLogits(nn.Module):
    """A 'model' whose logits are given (hand-computed loss checks)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> HeadOutput:
        return HeadOutput(self.logits, EncoderOutput(self.logits))


class Rows:
    """Teacher rows given by hand."""

    def __init__(self, rows: list[np.ndarray]) -> None:
        self.data = rows

    def rows(self, indices):
        return [self.data[i] for i in indices]


# --- prediction-layer distillation ------------------------------------------------------------------


def test_classification_loss_mixes_gold_and_soft_and_transfer_rows_are_soft_only(tok, glue) -> None:
    data = load_task_data("sst2", [glue])
    task = ClassificationTask(data, tok, 32)
    transfer = ([np.array([101, 2000, 102])], [np.zeros(3, np.int64)])
    teacher = [np.array([[math.log(2.0), 0.0]], np.float32)] * (task.num_examples() + 1)  # P_T = (2/3, 1/3)
    distill = DistillTask(task, Rows(teacher), alpha=0.25, transfer=transfer)
    assert distill.num_examples() == task.num_examples() + 1
    batch = distill.collate([0, task.num_examples()], seed=0)  # one labelled row, one transfer row
    assert batch["gold"].tolist() == [True, False] and batch["input_ids"].shape[0] == 2
    student = torch.tensor([[0.0, math.log(3.0)], [0.0, math.log(3.0)]])  # P_S = (1/4, 3/4)
    soft = -(2 / 3 * math.log(1 / 4) + 1 / 3 * math.log(3 / 4))
    gold = -math.log(1 / 4 if int(batch["labels"][0]) == 0 else 3 / 4)
    loss, stats = distill.loss(FixedLogits(student), batch)
    assert loss.item() == pytest.approx(0.25 * soft + 0.75 * gold + soft, rel=1e-6)
    assert stats["train_count"] == 1 and distill.weight(batch) == 2


def test_regression_distillation_is_squared_error_to_the_teacher(tok, glue) -> None:
    data = load_task_data("sst2", [glue])
    data.regression = True
    task = ClassificationTask(data, tok, 32)
    distill = DistillTask(task, Rows([np.array([[2.0]], np.float32)] * task.num_examples()), alpha=0.5)
    batch = distill.collate([0, 1], seed=0)
    labels = batch["labels"]
    loss, _ = distill.loss(FixedLogits(torch.tensor([[1.0], [1.0]])), batch)
    assert loss.item() == pytest.approx(sum(0.5 * 1.0 + 0.5 * (1.0 - float(y)) ** 2 for y in labels), rel=1e-6)


def test_merge_batches_pads_jointly() -> None:
    a = {"input_ids": torch.ones(1, 2, dtype=torch.long), "attention_mask": torch.ones(1, 2, dtype=torch.long),
         "token_type_ids": torch.zeros(1, 2, dtype=torch.long), "labels": torch.tensor([1])}
    b = {k: torch.cat([v, v], 1) if v.ndim == 2 else v for k, v in a.items()}
    merged = merge_batches(a, b, pad_id=0)
    assert merged["input_ids"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert merged["attention_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert merged["labels"].tolist() == [1, 1]


def test_tagging_targets_go_to_the_students_first_subwords_across_vocabularies(tok, tmp_path) -> None:
    """The teacher (MiniLM vocabulary) and the student (24 tokens: 'films' is 'film ##s', 'superb' is [UNK])
    split words differently; each word's teacher row lands on the student's first piece of that word."""
    conll = tmp_path / "train.txt"
    conll.write_text("-DOCSTART- -X- -X- O\n\nfilms NN B-NP O\nsuperb JJ B-NP B-MISC\nacting NN B-NP O\n")
    data = load_task_data("ner", [f"train={conll}", f"dev={conll}"])
    small = Tokenizer(SMALL_VOCAB)
    task = TaggingTask(data, small, 16)
    sentences = [s.tokens for s in data.train]
    t_ids, t_maps = encode_words(tok, sentences, 16)
    inputs = TeacherInputs(t_ids, [r * 0 for r in t_ids], tok.pad_token_id, t_maps, [3])
    n = len(data.labels)

    class Echo(nn.Module):  # logits[b, t, :] = position t in every class
        def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> HeadOutput:
            B, T = input_ids.shape
            logits = torch.arange(T, dtype=torch.float32)[None, :, None].expand(B, T, n)
            return HeadOutput(logits, EncoderOutput(logits))

    rows = teacher_rows(Echo(), inputs, [0], 8)
    assert rows[0][:, 0].tolist() == [1.0, 2.0, 3.0]  # teacher: one piece per word at positions 1, 2, 3
    s_maps = encode_words(small, sentences, 16)[1]
    distill = DistillTask(task, Rows(rows), student_word_maps=s_maps)
    batch = distill.collate([0], seed=0)
    assert small.tokenize("films superb acting") == ["film", "##s", "[UNK]", "acting"]
    assert batch["teacher_mask"][0].tolist() == [False, True, False, True, True, False]
    assert batch["teacher"][0, [1, 3, 4], 0].tolist() == [1.0, 2.0, 3.0]
    loss, stats = distill.loss(Echo(), batch)
    assert math.isfinite(loss.item()) and stats["train_count"] == 3


# --- the teacher cache --------------------------------------------------------------------------------


def test_cached_teacher_gives_the_losses_of_the_live_teacher_and_is_reused(tok, glue, models, tmp_path) -> None:
    data = load_task_data("sst2", [glue])
    task = ClassificationTask(data, tok, 32)
    teacher, _ = load_model(models["teacher"])
    inputs = TeacherInputs(task.ids, task.types, tok.pad_token_id)
    cache = TeacherCache.open_or_build(tmp_path / "cache", teacher, models["teacher"], inputs, batch_size=4,
                                       progress=False)
    assert len(cache) == task.num_examples()
    student, _ = load_model(models["student"], "sequence-classification", labels=["0", "1"])
    student.eval()
    cached, live = DistillTask(task, cache), DistillTask(task, LiveTeacher(teacher, inputs))
    for indices in ([0, 5, 7], [3], list(range(task.num_examples()))):
        a, b = cached.collate(indices, 0), live.collate(indices, 0)
        torch.testing.assert_close(a["teacher"], b["teacher"], atol=1e-6, rtol=1e-5)
        assert cached.loss(student, a)[0].item() == pytest.approx(live.loss(student, b)[0].item(), rel=1e-6)

    class Broken(nn.Module):
        def forward(self, *args, **kwargs):
            raise AssertionError("the teacher ran again")

    again = TeacherCache.open_or_build(tmp_path / "cache", Broken(), models["teacher"], inputs, progress=False)
    assert again.rows([3])[0].tolist() == cache.rows([3])[0].tolist()
    changed = TeacherInputs(task.ids[:-1], task.types[:-1], tok.pad_token_id)  # other inputs: computed again
    assert len(TeacherCache.open_or_build(tmp_path / "cache", teacher, models["teacher"], changed,
                                          progress=False)) == task.num_examples() - 1


# --- intermediate layers ------------------------------------------------------------------------------


def test_layer_losses_by_hand_and_zero_for_a_copy_of_the_teacher(tok, models) -> None:
    mask = torch.tensor([[1, 1, 0]])
    hidden = [torch.zeros(1, 3, 2), torch.ones(1, 3, 2)]
    teacher = EncoderOutput(torch.zeros(1, 3, 2), hidden_states=[torch.ones(1, 3, 2)] * 3,
                            attention_scores=[torch.full((1, 2, 3, 3), 3.0)] * 2)
    losses = layer_losses(hidden, [torch.ones(1, 2, 3, 3)], teacher, mask, [0, 2], LayerTerms())
    assert losses["embedding"].item() == pytest.approx(1.0)  # zeros vs ones over real tokens
    assert losses["hidden"].item() == pytest.approx(0.0)
    assert losses["attention"].item() == pytest.approx(4.0)  # (1 - 3)^2 over real (query, key) pairs
    model, _ = load_model(models["pretrained"])
    task = LayerDistillTask(Sequences([np.array([101, 2023, 102])], [np.zeros(3, np.int64)]), None, model, tok,
                            uniform_layer_map(4, 4))
    copy = LayerStudent(load_model(models["pretrained"])[0], None)
    assert task.loss(copy, task.collate([0], 0))[0].item() == pytest.approx(0.0, abs=1e-10)


def test_layer_map_errors_and_terms(tok, models) -> None:
    teacher, _ = load_model(models["pretrained"])
    rows = Sequences([np.array([101, 102])], [np.zeros(2, np.int64)])
    with pytest.raises(WellreadError, match="no teacher attention"):
        LayerDistillTask(rows, None, teacher, tok, [0, 0, 4])
    LayerDistillTask(rows, None, teacher, tok, [0, 0, 4], LayerTerms.parse("hidden,embedding"))
    with pytest.raises(WellreadError, match="choose from"):
        LayerTerms.parse("hidden,logits")


@pytest.mark.slow
@pytest.mark.parametrize("student_name", ["student", "same"])
def test_projection_is_trained_and_saved_only_when_widths_differ(tok, models, tmp_path, student_name) -> None:
    teacher, _ = load_model(models["pretrained"])
    student, _ = load_model(models[student_name])
    projection = load_projection(models[student_name], student.config.hidden_size, teacher.config.hidden_size)
    assert (projection is None) == (student_name == "same")
    model = LayerStudent(student, projection)
    before = None if projection is None else projection.proj.weight.detach().clone()
    ids = [np.array([101, 2023 + i, 2003, 1037, 102]) for i in range(8)]
    task = LayerDistillTask(Sequences(ids, [r * 0 for r in ids]), Sequences(ids[:2], [r * 0 for r in ids[:2]]),
                            teacher, tok, uniform_layer_map(2, 4), batch_size=4)
    out = tmp_path / "out"
    batch = task.collate([0, 1], 0)  # MFU counts the student's training and the teacher's forward pass
    assert task.flops(model, batch) == 3 * forward_flops(student.config, [5, 5]) + forward_flops(teacher.config, [5, 5])
    result = Trainer(model, task, TrainArgs(out, max_steps=3, batch_size=4, lr=1e-2, progress=False)).fit()
    assert result["val_layer_loss"] > 0 and {"val_hidden_loss", "val_attention_loss"} <= set(result)
    assert not any("proj" in key for key in read_state_dict(out))  # never in the student's weights
    if student_name == "same":
        assert not (out / PROJECTION_FILE).exists()
        return
    saved_projection = load_file(out / PROJECTION_FILE)
    assert saved_projection["proj.weight"].shape == (48, 32)
    assert not torch.equal(saved_projection["proj.weight"], before)  # trained
    again = load_projection(out, 32, 48)  # a next distillation starts from it
    torch.testing.assert_close(again.proj.weight, projection.proj.weight)


@pytest.mark.slow
def test_layer_stage_resumes_with_its_projection(tok, models, tmp_path) -> None:
    teacher, _ = load_model(models["pretrained"])
    ids = [np.array([101, 2023 + i, 2003, 102]) for i in range(8)]

    def trainer(out: Path) -> Trainer:
        torch.manual_seed(0)
        student, _ = load_model(models["student"])
        task = LayerDistillTask(Sequences(ids, [r * 0 for r in ids]), None, teacher, tok, [0, 2, 4], batch_size=4)
        return Trainer(LayerStudent(student, load_projection(None, 32, 48)), task,
                       TrainArgs(out, max_steps=4, batch_size=4, lr=1e-2, save_every=2, progress=False))

    whole = trainer(tmp_path / "whole")
    whole.fit()
    part = trainer(tmp_path / "part")
    collate = part.task.collate

    def interrupted(indices: list[int], seed: int) -> dict:
        if part.step == 3:
            raise KeyboardInterrupt
        return collate(indices, seed)

    part.task.collate = interrupted  # stop in step 3, after the checkpoint at step 2 ...
    with pytest.raises(KeyboardInterrupt):
        part.fit()
    resumed = trainer(tmp_path / "part")  # ... and resume to step 4
    resumed.fit(resume=True)
    torch.testing.assert_close(resumed.model.projection.proj.weight, whole.model.projection.proj.weight)
    for a, b in zip(resumed.model.student.parameters(), whole.model.student.parameters(), strict=True):
        torch.testing.assert_close(a, b)


# --- augmentation and transfer files ------------------------------------------------------------------


def test_augmentation_replaces_single_piece_words_and_respects_the_cap(tok, tmp_path) -> None:
    torch.manual_seed(0)
    mlm = build_model(bert_config(tok), "masked-lm")
    folder = save_model(mlm, tmp_path / "mlm", tok)
    augmenter = Augmenter.load(folder, candidates=5)
    options = augmenter.candidates(["a", "great", "xylophonist", "film"])
    assert [len(c) for c in options] == [5, 5, 0, 5]  # the multi-piece word has none
    assert all(not c.startswith("##") and c not in ("[CLS]", "[MASK]") for c in options[1])
    assert "great" not in options[1]
    examples = [Example(s, None, None, f"e{i}") for i, s in enumerate(POSITIVE + NEGATIVE)]
    opts = AugmentOptions(str(folder), per_example=3, max_examples=10, candidates=5)
    new = augment(examples, augmenter, opts, progress=False)
    assert len(new) == 10 and all(ex.label is None for ex in new)
    originals = {ex.text_a for ex in examples}
    assert not any(ex.text_a in originals for ex in new)
    first = augmented_examples(examples, opts, tmp_path / "run", progress=False)
    assert [ex.text_a for ex in augmented_examples(examples, opts, tmp_path / "run", progress=False)] == \
        [ex.text_a for ex in first]  # read back, same settings
    with pytest.raises(WellreadError, match="no masked-LM head"):
        Augmenter.load(save_model(build_model(bert_config(tok), "base"), tmp_path / "base", tok))


def test_transfer_files_and_general_text_inputs(tok, glue, tmp_path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("a fine film\n\nsome more words\n")
    assert [ex.text_a for ex in read_transfer([text], "sst2")] == ["a fine film", "some more words"]
    assert all(ex.label is None for ex in read_transfer([glue / "train.tsv"], "sst2"))
    with pytest.raises(WellreadError, match="tab"):
        read_transfer([text], "rte", pairs=True)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"line {i} of the corpus" for i in range(300)))
    train, val = general_inputs([corpus], tok, 8)
    assert len(train.lengths) + len(val.lengths) == 300 and 0 < len(val.lengths) < 20
    assert max(train.lengths) <= 8


# --- the command --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_distill_both_stages_then_chain(tok, glue, models, tmp_path, capsys) -> None:
    out = tmp_path / "tiny-sst2"
    assert run_cli("distill", "--teacher", models["teacher"], "--student", models["student"], "--task", "sst2",
                   "--data", glue, "--out", out, "--intermediate-steps", "3", "--epochs", "2", "--temperature", "2",
                   *COMMON) == 0
    assert (out / "intermediate" / PROJECTION_FILE).is_file() and not (out / PROJECTION_FILE).exists()
    assert (out / "teacher_outputs" / "values.npy").is_file()  # 2 epochs: cached
    results = json.loads((out / "results.json").read_text())
    assert "sst2_acc" in results["metrics"] and "sst2_acc" in results["teacher_metrics"]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss"]) for r in log if r["type"] == "train")
    model, report = load_model(out)
    assert model.config.id2label == {0: "0", 1: "1"} and not report.initialized
    # chaining: the distilled model is the next run's student, and a teacher
    chained = tmp_path / "chained"
    assert run_cli("distill", "--teacher", out, "--student", out, "--task", "sst2", "--data", glue, "--out", chained,
                   "--stage", "prediction", "--max-steps", "2", "--cache-teacher", "off", *COMMON) == 0
    assert not (chained / "teacher_outputs").exists()
    assert run_cli("evaluate", "--model", chained, "--task", "sst2", "--data", glue, "--bf16", "off") == 0
    # resume: a finished intermediate stage is kept
    capsys.readouterr()
    assert run_cli("distill", "--teacher", models["teacher"], "--student", models["student"], "--task", "sst2",
                   "--data", glue, "--out", out, "--intermediate-steps", "3", "--epochs", "2", "--resume",
                   *COMMON) == 0
    assert "intermediate stage already done" in capsys.readouterr().out


@pytest.mark.slow
def test_distill_with_mismatched_vocabularies(tok, glue, models, tmp_path, capsys) -> None:
    out = tmp_path / "small"
    assert run_cli("distill", "--teacher", models["teacher"], "--student", models["small"], "--task", "sst2",
                   "--data", glue, "--out", out, "--max-steps", "2", *COMMON) == 0
    assert "only the prediction layer" in capsys.readouterr().out
    assert Tokenizer.load(out).vocab_size == len(SMALL_VOCAB)  # the student keeps its own tokenizer
    assert run_cli("distill", "--teacher", models["teacher"], "--student", models["small"], "--task", "sst2",
                   "--data", glue, "--out", out, "--stage", "both", *COMMON) == 2
    assert "same tokenizer" in capsys.readouterr().err


@pytest.mark.slow
def test_general_distillation_makes_a_student_with_the_teachers_vocabulary(tok, models, tmp_path, capsys) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"{random.Random(i).choice(POSITIVE)} number {i}" for i in range(120)))
    out = tmp_path / "general"
    assert run_cli("distill", "--teacher", models["pretrained"], "--student", "tiny", "--task", "none", "--data",
                   corpus, "--out", out, "--max-steps", "2", "--max-length", "16", *COMMON) == 0
    model, _ = load_model(out)
    assert model.config.hidden_size == 128 and model.config.vocab_size == tok.vocab_size
    assert Tokenizer.load(out).vocab == tok.vocab and (out / PROJECTION_FILE).is_file()
    # and it can be the student of task distillation with layer losses (same tokenizer as the teacher)
    assert run_cli("distill", "--teacher", models["small"], "--student", out, "--task", "none", "--data", corpus,
                   "--out", tmp_path / "x", *COMMON) == 2
    assert "same tokenizer" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("family", ["qa", "tagging"])
def test_distill_qa_and_tagging_both_stages(tok, models, tmp_path, family) -> None:
    torch.manual_seed(0)
    config = bert_config(tok, 48, 4, 4)
    if family == "qa":
        qa = squad_json(tmp_path / "q.json", n=6, filler=5)
        data = ["--task", "squad", "--data", f"train={qa}", f"dev={qa}", "--max-length", "32", "--doc-stride", "8"]
        teacher = build_model(config, "question-answering")
    else:
        ner = conll(tmp_path / "ner.txt", 6, [[("Thabo", "B-PER"), ("visited", "O"), ("Durban", "B-LOC")]])
        data = ["--task", "ner", "--data", f"train={ner}", f"dev={ner}"]
        teacher = build_model(config.with_labels(["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]), "token-classification")
    folder = save_model(teacher, tmp_path / "teacher", tok)
    out = tmp_path / "out"
    assert run_cli("distill", "--teacher", folder, "--student", models["student"], *data, "--out", out,
                   "--intermediate-steps", "2", "--max-steps", "2", "--cache-teacher", "on", *COMMON) == 0
    results = json.loads((out / "results.json").read_text())
    assert ("f1" in results["metrics"]) and (out / "intermediate" / PROJECTION_FILE).is_file()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss"]) for r in log if r["type"] == "train")


def test_task_distillation_needs_a_fine_tuned_teacher(glue, models, tmp_path, capsys) -> None:
    assert run_cli("distill", "--teacher", models["pretrained"], "--student", models["student"], "--task", "sst2",
                   "--data", glue, "--out", tmp_path / "x", *COMMON) == 2
    assert "not fine-tuned for sst2" in capsys.readouterr().err


def test_help_teaches(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["distill", "--help"])
    assert exit_info.value.code == 0
    assert "Examples:" in capsys.readouterr().out
