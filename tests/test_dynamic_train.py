"""LengthDrop training (the sandwich, in-place distillation, LayerDrop) and the lengthdrop/search commands end to
end on tiny random BERTs with the all-MiniLM-L6-v2 vocabulary and fixture data from helpers.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import conll, run_cli, save_tiny, spawn_ddp, squad_json, tiny_config, write_sst2

from wellread.cli import main
from wellread.dynamic.options import LengthDropOptions
from wellread.dynamic.run import lengthdrop
from wellread.dynamic.train import LengthDropTask, Sandwich, distillation
from wellread.errors import ConfigError
from wellread.finetune import ClassificationTask, QATask, TaggingTask, load_task_data
from wellread.models import build_model
from wellread.models.checkpoint import load_model
from wellread.models.fingerprint import fingerprint
from wellread.models.flops import batch_flops
from wellread.models.length import FILE_NAME, LengthConfig
from wellread.tokenizer import Tokenizer
from wellread.train.loop import TrainArgs, Trainer

GOOD = ["a great film", "wonderful acting and a fine story that moved me", "i loved it", "superb , moving and funny"]
BAD = ["a dull film", "terrible acting and a thin story that bored me", "i hated it", "boring , slow and silly"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """SST-2 (TSV), SQuAD (JSON) and CoNLL fixtures."""
    root = tmp_path_factory.mktemp("data")
    write_sst2(root / "SST-2", (("train", 32), ("dev", 12)), positive=GOOD, negative=BAD)
    squad_json(root / "qa.json", n=8, filler=30)
    sentence = [("Thabo", "B-PER"), ("Mbeki", "I-PER"), ("visited", "O"), ("Durban", "B-LOC"), (".", "O")]
    conll(root / "conll" / "train.txt", 8, [sentence])
    conll(root / "conll" / "valid.txt", 3, [sentence])
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tok) -> Path:
    """A random 3-layer BERT (no head) with the MiniLM vocabulary."""
    return save_tiny(tmp_path_factory.mktemp("tiny") / "model", tok, layers=3)


@pytest.fixture(scope="module")
def sst2_model(tmp_path_factory, tiny, data) -> Path:
    out = tmp_path_factory.mktemp("ft") / "sst2"
    assert run_cli("finetune", "--model", tiny, "--task", "sst2", "--data", data / "SST-2", "--out", out,
                   "--max-steps", 2, "--batch-size", 8, "--bf16", "off", "--no-progress") == 0
    return out


def classifier(tok: Tokenizer, data: Path) -> tuple[torch.nn.Module, ClassificationTask]:
    task_data = load_task_data("sst2", [data / "SST-2"])
    torch.manual_seed(0)
    config = tiny_config(tok.vocab_size, layers=3, dropout=0.0).with_labels(task_data.labels)  # no dropout: exact sums
    return build_model(config, "sequence-classification"), ClassificationTask(task_data, tok, 64, batch_size=8)


# --- the task ---------------------------------------------------------------------------------------


def test_sandwich_draws_smallest_and_seeded_random_sub_models(tok, data) -> None:
    model, inner = classifier(tok, data)
    task = LengthDropTask(inner, 3, Sandwich(p=0.3, sub_models=3, layerdrop=0.5))
    subs = task.sub_models(seed=11)
    assert len(subs) == 4 and subs[0].keep == pytest.approx((0.7, 0.49, 0.343)) and subs[0].skip == ()
    assert subs == task.sub_models(seed=11) and subs != task.sub_models(seed=12)
    assert all(config.layers == 3 and len(config.skip) < 3 for config in subs)
    draws = [config.skip for seed in range(30) for config in task.sub_models(seed)[1:]]
    assert any(draws) and not all(draws)  # LayerDrop skips layers in some sub-models


def test_a_smallest_sub_network_that_skips_layers_leaves_the_last_part_running_every_layer(tok, data) -> None:
    model, inner = classifier(tok, data)
    task = LengthDropTask(inner, 3, Sandwich(p=0.3, sub_models=2, layerdrop=0.9, smallest_skip=(2, 0)))
    for seed in range(20):
        smallest, *random = task.sub_models(seed)
        assert smallest.skip == (0, 2) and smallest.keep == pytest.approx((1.0, 0.7, 0.7))
        assert random[-1].skip == ()  # drawn without LayerDrop: the part DDP reduces gradients on
    batch = task.collate([0, 1, 2, 3], seed=3)
    parts = task.loss_parts(model.train(), batch)  # full, then the smallest, then the random ones
    assert [part.args[0] for part in parts[1:]] == task.sub_models(batch["length_seed"])
    assert parts[-1].args[0].skip == ()
    with pytest.raises(ConfigError, match="sub_models >= 1"):
        Sandwich(sub_models=0, smallest_skip=(1,))


def test_lengthdrop_loss_averages_gold_and_distillation_and_trains(tok, data) -> None:
    model, inner = classifier(tok, data)
    model.train()
    batch = LengthDropTask(inner, 3).collate([0, 1, 2, 3, 4, 5], seed=7)
    gold, _ = inner.loss(model, batch)
    task = LengthDropTask(inner, 3, Sandwich(p=0.0, sub_models=1))  # sub-models = the full model
    with torch.no_grad():
        teacher = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).logits
    entropy = -(teacher.softmax(-1) * teacher.log_softmax(-1)).sum()  # soft CE of a model with itself
    loss, stats = task.loss(model, batch)
    assert loss.item() == pytest.approx((gold.item() + 2 * entropy.item()) / 3, rel=1e-5)
    assert stats["train_count"] == 6
    task = LengthDropTask(inner, 3, Sandwich(p=0.4, sub_models=2, layerdrop=0.3))
    loss, _ = task.loss(model, batch)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())


class OneGraph:
    """A LengthDrop task without `loss_parts`: the training loop back-propagates its summed loss at once."""

    def __init__(self, task: LengthDropTask) -> None:
        self.task = task

    def num_examples(self) -> int:
        return self.task.num_examples()

    def order(self, epoch: int, generator: torch.Generator) -> list[int]:
        return self.task.order(epoch, generator)

    def collate(self, indices: list[int], seed: int) -> dict:
        return self.task.collate(indices, seed)

    def weight(self, batch: dict) -> float:
        return self.task.weight(batch)

    def loss(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        return self.task.loss(model, batch)


def test_the_loop_back_propagates_the_sandwich_model_by_model(tok, data, tmp_path) -> None:
    """One part per model, each freed before the next runs: the same step as one summed graph."""
    steps = {}
    for name in ("parts", "one_graph"):
        model, inner = classifier(tok, data)
        task = LengthDropTask(inner, 3, Sandwich(p=0.4, sub_models=2, layerdrop=0.5))
        args = TrainArgs(output_dir=tmp_path / name, max_steps=2, batch_size=8, grad_accum=2, lr=1e-2,
                         progress=False)
        trainer = Trainer(model, task if name == "parts" else OneGraph(task), args)
        assert len(trainer._loss_parts(task.collate([0, 1], seed=0))) == (4 if name == "parts" else 1)
        logged = [trainer.train_step() for _ in range(2)]
        steps[name] = logged, {k: v.detach().clone() for k, v in model.state_dict().items()}
    (parts, weights), (one, reference) = steps["parts"], steps["one_graph"]
    assert [r["loss"] for r in parts] == pytest.approx([r["loss"] for r in one], rel=1e-5)
    assert parts[0]["train_count"] == one[0]["train_count"] == 8  # the gold part's statistics
    for key, value in reference.items():
        assert torch.allclose(weights[key], value, atol=1e-6), key


def test_flops_count_every_model_of_the_sandwich_at_its_lengths(tok, data, monkeypatch) -> None:
    """Hand count, H 32, F 64, inputs of 10 and 6 real tokens: a layer taking a tokens in and keeping b costs
    2 x (3 H^2 a + H a^2 + H a b + (H^2 + 2 H F) b) = 2 x (3072 a + 32 a^2 + 32 a b + 5120 b)."""
    model, inner = classifier(tok, data)  # 3 layers
    task = LengthDropTask(inner, 3, Sandwich(p=0.5, sub_models=1))
    halves = LengthConfig((0.5, 0.5, 0.5))  # 10 -> 5, 5, 5 tokens; 6 -> 4 (the floor), 4, 4
    middle = LengthConfig.build([None, 0.5, None])  # only layer 1 runs: 10 -> 5, 6 -> 4
    monkeypatch.setattr(task, "sub_models", lambda seed: [halves, middle])
    mask = torch.tensor([[1] * 10, [1] * 6 + [0] * 4])  # (2, 10)
    batch = {"attention_mask": mask, "length_seed": 0}
    full = 3 * (176_640 + 102_912)  # f(10, 10) + f(6, 6), three layers
    drop = (122_240 + 2 * 85_120) + (81_664 + 2 * 67_584)  # f(10, 5) + 2 f(5, 5); f(6, 4) + 2 f(4, 4)
    skip = 122_240 + 81_664  # f(10, 5); f(6, 4)
    assert task.flops(model, batch) == pytest.approx(3 * (full + drop + skip), rel=1e-12)  # 4,655,616


def test_flops_follow_the_draws_of_each_batch(tok, data) -> None:
    model, inner = classifier(tok, data)
    batch = inner.collate(list(range(8)), seed=0)
    one_pass = batch_flops(model.config, batch)  # the loop's default: one forward and backward at full length
    at_full = LengthDropTask(inner, 3, Sandwich(p=0.0, sub_models=2))  # every sub-model is the full model
    assert at_full.flops(model, at_full.collate(list(range(8)), seed=0)) == pytest.approx(4 * one_pass)
    task = LengthDropTask(inner, 3, Sandwich(p=0.4, sub_models=2, layerdrop=0.5))
    counts = {task.flops(model, task.collate(list(range(8)), seed)) for seed in range(6)}
    assert len(counts) > 1 and all(one_pass < c < 4 * one_pass for c in counts)  # the draws differ per seed


@pytest.mark.slow
def test_the_training_log_counts_the_sandwich_flops(tok, data, tmp_path) -> None:
    model, inner = classifier(tok, data)
    task = LengthDropTask(inner, 3, Sandwich(p=0.4, sub_models=2, layerdrop=0.5))
    trainer = Trainer(model, task, TrainArgs(output_dir=tmp_path, max_steps=1, batch_size=8, progress=False))
    batches = trainer._micro_batches(0)[0]  # the step's micro-batches
    step = trainer.train_step()
    assert step["flops"] == pytest.approx(sum(task.flops(model, b) for b in batches))
    assert step["tokens"] == sum(float(b["attention_mask"].sum()) for b in batches)  # tokens/s still logged


@pytest.mark.slow
def test_two_process_lengthdrop_with_layerdrop_matches_one_process(tok, data, tmp_path) -> None:
    """torchrun-style DDP (gloo, 2 x 4) = 1 process with 2 micro-batches of 4, with sub-models that skip layers
    (their parts run without gradient reduction; the smallest sub-model's, which runs every layer, reduces)."""
    base = save_tiny(tmp_path / "base", tok, layers=3, dropout=0.0)
    assert run_cli("finetune", "--model", base, "--task", "sst2", "--data", data / "SST-2", "--out", tmp_path / "ft",
                   "--max-steps", 1, "--batch-size", 8, "--bf16", "off", "--no-progress") == 0
    common = dict(model=str(tmp_path / "ft"), task="sst2", data=[str(data / "SST-2")], max_steps=3, batch_size=8,
                  lr=1e-3, bf16="off", save_every=0, progress=False, seed=3, length_drop_prob=0.3, sub_models=2,
                  layerdrop=0.5)
    single = lengthdrop(LengthDropOptions(out=tmp_path / "single", grad_accum=2, **common))
    spawn_ddp(lengthdrop, LengthDropOptions(out=tmp_path / "ddp", **common))
    ddp = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert ddp["metrics"] == pytest.approx(single["metrics"])
    reference = load_model(tmp_path / "single")[0].state_dict()
    for key, value in load_model(tmp_path / "ddp")[0].state_dict().items():
        assert torch.allclose(value, reference[key], atol=1e-5), key


def test_token_level_distillation_ignores_padding_and_unlabelled_tokens(tok, data) -> None:
    qa = QATask(load_task_data("squad", [f"train={data / 'qa.json'}", f"dev={data / 'qa.json'}"]), tok, 48, 16)
    batch = qa.collate([0, 1, 2], seed=0)
    pad = batch["attention_mask"] == 0
    assert pad.any()
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(*pad.shape, 2, generator=g), torch.randn(*pad.shape, 2, generator=g)
    loss = distillation(qa, student, teacher, batch)
    noisy = student.clone()
    noisy[pad] = 50.0  # padding logits do not count
    assert distillation(qa, noisy, teacher, batch).item() == pytest.approx(loss.item())
    tagging = TaggingTask(load_task_data("ner", [data / "conll"]), tok, 32)
    batch = tagging.collate([0, 1], seed=0)
    unlabelled = batch["labels"] == -100
    student, teacher = torch.randn(*unlabelled.shape, 9, generator=g), torch.randn(*unlabelled.shape, 9, generator=g)
    loss = distillation(tagging, student, teacher, batch)
    noisy = student.clone()
    noisy[unlabelled] = 50.0
    assert distillation(tagging, noisy, teacher, batch).item() == pytest.approx(loss.item())
    assert loss.item() > 0


# --- the commands -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lengthdrop_then_search_saves_a_configuration_inference_uses(sst2_model, data, tmp_path) -> None:
    out = tmp_path / "ld"
    assert run_cli("lengthdrop", "--model", sst2_model, "--task", "sst2", "--data", data / "SST-2", "--out", out,
                   "--max-steps", 2, "--batch-size", 8, "--bf16", "off", "--layerdrop", 0.3, "--no-progress") == 0
    results = json.loads((out / "results.json").read_text())
    assert {"sst2_acc", "smallest_sst2_acc"} <= set(results["metrics"])
    search = ["search", "--model", out, "--task", "sst2", "--data", data / "SST-2", "--cost", "flops",
              "--iterations", 2, "--population", 4, "--mutations", 2, "--crossovers", 2, "--batch-size", 4,
              "--max-drop", 100, "--seed", 5, "--no-progress"]
    assert run_cli(*search, "--out", tmp_path / "s1") == 0
    report = json.loads((tmp_path / "s1" / "frontier.json").read_text())
    assert (tmp_path / "s1" / "frontier.png").stat().st_size > 1000
    assert report["full"]["keep"] == [1.0, 1.0, 1.0] and report["flops_ratio"] > 1
    assert {"batch_4", "batch_1"} == set(report["speedup"])
    saved = json.loads((out / FILE_NAME).read_text())
    assert saved["keep"] == report["chosen"]["keep"]
    assert saved["info"]["fingerprint"] == fingerprint(out, length_config=False)  # what it was searched on
    model, _ = load_model(out)
    assert model.length_config == LengthConfig(tuple(report["chosen"]["keep"]))
    assert run_cli("evaluate", "--model", out, "--task", "sst2", "--data", data / "SST-2", "--bf16", "off") == 0
    assert run_cli(*search, "--out", tmp_path / "s2", "--no-save") == 0  # the same seed, the same search
    again = json.loads((tmp_path / "s2" / "frontier.json").read_text())
    assert [c["gene"] for c in again["evaluated"]] == [c["gene"] for c in report["evaluated"]]
    assert run_cli(*search, "--out", tmp_path / "s3", "--skip-layers") == 0  # whole layers too
    skipping = json.loads((tmp_path / "s3" / "frontier.json").read_text())
    assert any(c["skip"] for c in skipping["evaluated"]) and skipping["chosen"]["skip"]  # the cheapest skips
    assert load_model(out)[0].length_config == LengthConfig(tuple(skipping["chosen"]["keep"]),
                                                            skip=tuple(skipping["chosen"]["skip"]))
    assert run_cli(*search, "--out", tmp_path / "s4", "--skip-layers", "--iterations", 0, "--no-save",
                   "--start-from", tmp_path / "s3" / "frontier.json") == 0  # search on from s3's frontier
    started = {tuple(c["gene"]) for c in json.loads((tmp_path / "s4" / "frontier.json").read_text())["evaluated"]}
    assert {tuple(c["gene"]) for c in skipping["frontier"]} <= started
    (tmp_path / "bad.json").write_text('{"frontier": [{"keep": [1.0, 1.0], "skip": []}]}')
    assert run_cli(*search, "--out", tmp_path / "s5", "--start-from", tmp_path / "bad.json") == 2


@pytest.mark.slow
def test_qa_search_with_latency_and_drop_and_restore(tiny, data, tmp_path) -> None:
    qa = ["--task", "squad", "--data", f"train={data / 'qa.json'}", f"dev={data / 'qa.json'}", "--max-length", 48,
          "--doc-stride", 16]
    assert run_cli("finetune", "--model", tiny, *qa, "--out", tmp_path / "qa", "--max-steps", 1, "--batch-size", 8,
                   "--bf16", "off", "--no-progress") == 0
    assert run_cli("lengthdrop", "--model", tmp_path / "qa", *qa, "--out", tmp_path / "ld", "--max-steps", 1,
                   "--batch-size", 8, "--bf16", "off", "--no-progress") == 0
    assert run_cli("search", "--model", tmp_path / "ld", *qa, "--iterations", 1, "--population", 3, "--mutations", 2,
                   "--crossovers", 1, "--repeats", 1, "--max-drop", 100, "--no-progress") == 0
    report = json.loads((tmp_path / "ld" / "search" / "frontier.json").read_text())
    assert report["cost"] == "latency" and all(c["latency"] > 0 for c in report["evaluated"])
    assert (tmp_path / "ld" / FILE_NAME).is_file()


def test_lengthdrop_needs_a_model_fine_tuned_for_the_task(tiny, data, tmp_path, capsys) -> None:
    assert run_cli("lengthdrop", "--model", tiny, "--task", "sst2", "--data", data / "SST-2", "--out",
                   tmp_path / "x", "--max-steps", 1, "--no-progress") == 2
    assert "fine-tune it first" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="probability"):
        Sandwich(p=1.0)


@pytest.mark.parametrize("command", ["lengthdrop", "search"])
def test_help(command, capsys) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "Examples:" in capsys.readouterr().out
