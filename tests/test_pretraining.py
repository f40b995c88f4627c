"""Pretraining: masking statistics, packing, exact resume, and DDP (gloo, 2 processes) = 1 process."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import spawn_ddp, tiny_config

from wellread.cli import build_parser, main
from wellread.corpus.pack import PackedSequences, pack, split_sentences
from wellread.models import build_model
from wellread.models.checkpoint import read_state_dict
from wellread.models.flops import batch_flops
from wellread.options import from_args
from wellread.textio import read_documents
from wellread.tokenizer import Tokenizer
from wellread.train.loop import TrainArgs, Trainer
from wellread.train.masking import mask_tokens
from wellread.train.pretrain import PretrainOptions, initial_model, pretrain
from wellread.train.pretraining import MaskingOptions, PretrainingTask

WORDS = (
    "the", "cat", "dog", "sat", "on", "mat", "ran", "far", "away", "quickly", "house", "garden", "tree",
    "river", "mountain", "small", "large", "happy", "sad", "unbelievable", "extraordinary", "walked",
    "talked", "jumped", "over", "under", "near",
)


def write_corpus(folder: Path, docs: int = 60, seed: int = 0) -> Path:
    rng = random.Random(seed)
    paragraphs = []
    for _ in range(docs):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))).capitalize() + "."
                     for _ in range(rng.randint(2, 8))]
        paragraphs.append(" ".join(sentences))
    path = folder / "corpus.txt"
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pretrain")
    corpus = write_corpus(root)
    tok = Tokenizer.train([str(corpus)], vocab_size=120, min_frequency=1, show_progress=False)
    pack(read_documents([corpus]), tok, root / "packed", [32, 64], val_permille=100, progress=False)
    return root / "packed"


def small_model(vocab_size: int, dropout: float = 0.1) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(tiny_config(vocab_size, max_positions=64, dropout=dropout), "pretraining")


def make_task(packed: Path, **options) -> PretrainingTask:
    tok = Tokenizer.load(packed / "tokenizer")
    return PretrainingTask(PackedSequences(packed / "len32" / "train"), PackedSequences(packed / "len32" / "val"),
                           tok, MaskingOptions(**options), eval_sequences=64)


def test_masking_statistics() -> None:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 1000, (400, 100))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = False
    maskable[:200, 60:] = False  # padding / specials
    m = mask_tokens(ids, maskable, mask_id=3, vocab_size=1000, rate=0.15, g=g)
    assert not (m.positions & ~maskable).any()
    per_row = m.positions.sum(1)
    assert (per_row[:200] == round(59 * 0.15)).all() and (per_row[200:] == round(99 * 0.15)).all()
    assert torch.equal(m.labels, ids[m.positions])
    replaced = m.input_ids[m.positions]
    frac_mask = (replaced == 3).float().mean().item()
    frac_kept = (replaced == m.labels).float().mean().item()
    assert abs(frac_mask - 0.8) < 0.02
    assert abs(frac_kept - 0.1) < 0.02  # (a random token equal to the original is rare at vocab 1000)
    assert torch.equal(m.input_ids[~m.positions], ids[~m.positions])


def test_whole_word_masking_masks_whole_words() -> None:
    g = torch.Generator().manual_seed(1)
    ids = torch.arange(198).repeat(50, 1)
    word_start = torch.zeros_like(ids, dtype=torch.bool)
    word_start[:, ::3] = True  # 66 words of 3 pieces each
    maskable = torch.ones_like(ids, dtype=torch.bool)
    m = mask_tokens(ids, maskable, mask_id=0, vocab_size=200, rate=0.15, g=g, word_start=word_start)
    words = m.positions.view(50, 66, 3)  # (rows, words, pieces)
    assert ((words.sum(-1) == 0) | (words.sum(-1) == 3)).all()
    assert (m.positions.sum(1) == 30).all()


def test_sentence_split_and_packing(packed: Path) -> None:
    assert split_sentences("Hello there. How are you? Fine!\nNew line") == ["Hello there.", "How are you?", "Fine!",
                                                                            "New line"]
    for L in (32, 64):
        data = PackedSequences(packed / f"len{L}" / "train")
        assert len(data) > 10
        for i in range(len(data)):
            a, b = data.pair(i)
            assert len(a) >= 1 and len(b) >= 1 and len(a) + len(b) <= L - 3
    report = json.loads((packed / "pack_report.json").read_text())
    assert report["documents"] == 60 and 0 < report["validation_documents"] < 60


def test_batches_have_segments_and_sop_labels(packed: Path) -> None:
    task = make_task(packed, sentence_order=True)
    batch = task.collate(list(range(8)), seed=3)
    tok = task.tok
    assert (batch["input_ids"][:, 0] == tok.cls_token_id).all()
    assert batch["sop_labels"].shape == (8,)
    assert batch["masked_positions"].sum() == batch["mlm_labels"].numel()
    # type ids: 0 up to and including the first [SEP], then 1 up to the last real token
    for row in range(8):
        n = int(batch["attention_mask"][row].sum())
        types = batch["token_type_ids"][row, :n]
        assert types[0] == 0 and types[-1] == 1 and (types.diff() >= 0).all()
    again = task.collate(list(range(8)), seed=3)
    assert all(torch.equal(batch[k], again[k]) for k in batch)  # the seed fixes the masks


def run_training(packed: Path, out: Path, steps: int, resume: bool = False, crash_at: int | None = None,
                 dropout: float = 0.1, **arg_overrides) -> list[dict]:
    task = make_task(packed, sentence_order=True)
    if crash_at is not None:
        collate = task.collate
        calls = {"n": 0}

        def crashing(indices, seed):
            calls["n"] += 1
            if calls["n"] > crash_at:
                raise KeyboardInterrupt("simulated kill")
            return collate(indices, seed)

        task.collate = crashing
    args = TrainArgs(output_dir=out, max_steps=steps, batch_size=8, lr=1e-3, log_every=1, save_every=2,
                     eval_every=3, progress=False, seed=7, **arg_overrides)
    Trainer(small_model(task.tok.vocab_size, dropout), task, args).fit(resume=resume)
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_log_records_tokens_per_s_and_mfu_of_the_real_tokens(packed: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WELLREAD_PEAK", "1e9")
    log = [r for r in run_training(packed, tmp_path / "run", 2) if r["type"] == "train"]
    task = make_task(packed, sentence_order=True)
    args = TrainArgs(output_dir=tmp_path / "again", max_steps=2, batch_size=8, seed=7, progress=False)
    trainer = Trainer(small_model(task.tok.vocab_size), task, args)
    for record in log:
        batches, _ = trainer._micro_batches(record["step"] - 1)  # the same batches: the seed fixes them
        flops = sum(batch_flops(trainer.model.config, b) for b in batches)  # 3 x forward, MLM head at masked
        tokens = sum(float(b["attention_mask"].sum()) for b in batches)
        # mfu x peak = flops / s and tokens_per_s = tokens / s over the same seconds
        assert record["mfu"] * 1e9 / record["tokens_per_s"] == pytest.approx(flops / tokens, rel=1e-6)
    monkeypatch.setenv("WELLREAD_PEAK", "off")
    assert all("mfu" not in r for r in run_training(packed, tmp_path / "off", 1))


@pytest.mark.slow
def test_exact_resume_after_a_kill(packed: Path, tmp_path: Path) -> None:
    full = [r for r in run_training(packed, tmp_path / "full", 6) if r["type"] == "train"]
    with pytest.raises(KeyboardInterrupt):
        run_training(packed, tmp_path / "cut", 6, crash_at=5)  # dies in step 6, after the step-4 checkpoint
    state = json.loads((tmp_path / "cut" / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 4
    log = run_training(packed, tmp_path / "cut", 6, resume=True)
    assert [r["step"] for r in log if r["type"] == "train"] == [1, 2, 3, 4, 5, 6]  # step 5 logged once
    resumed = [r for r in log if r["type"] == "train" and r["step"] > 4]
    expected = [r for r in full if r["step"] > 4]
    assert [r["loss"] for r in resumed] == [r["loss"] for r in expected]  # exactly equal on CPU


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(packed: Path, tmp_path: Path) -> None:
    single = run_training(packed, tmp_path / "single", 3, grad_accum=2, dropout=0.0)
    spawn_ddp(run_training, packed, tmp_path / "ddp", 3, dropout=0.0)  # dropout draws differ per process
    ddp = [json.loads(line) for line in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    for a, b in zip([r for r in single if r["type"] == "train"], [r for r in ddp if r["type"] == "train"],
                    strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)

    w1, w2 = read_state_dict(tmp_path / "single"), read_state_dict(tmp_path / "ddp")
    for key in w1:
        assert np.allclose(w1[key].numpy(), w2[key].numpy(), atol=1e-5), key


@pytest.mark.slow
def test_pretrain_and_fill_mask_cli(packed: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "model"
    assert main(["pretrain", "--data", str(packed), "--out", str(out), "--model", "tiny", "--phase", "32:3",
                 "--phase", "64:2", "--batch-size", "4", "--eval-every", "2", "--eval-sequences", "16",
                 "--masking", "whole-word", "--sop", "--no-progress", "--bf16", "off"]) == 0
    assert (out / "phase1-len32" / "done.json").is_file() and (out / "phase2-len64" / "done.json").is_file()
    import transformers

    hf = transformers.BertForPreTraining.from_pretrained(out)
    assert hf.config.num_hidden_layers == 2
    capsys.readouterr()
    assert main(["fill-mask", "--model", str(out), "the cat sat on the [MASK].", "--top-k", "3"]) == 0
    record = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert len(record["predictions"]) == 1 and len(record["predictions"][0]) == 3
    # a re-run with --resume finds both phases complete and only writes the model again
    assert main(["pretrain", "--data", str(packed), "--out", str(out), "--model", "tiny", "--phase", "32:3",
                 "--phase", "64:2", "--batch-size", "4", "--no-progress", "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out


def test_corpus_pack_cli_trains_a_vocabulary(tmp_path: Path, capsys) -> None:
    corpus = write_corpus(tmp_path, docs=30, seed=3)
    out = tmp_path / "packed"
    assert main(["corpus", "pack", str(corpus), "--vocab-size", "150", "--min-frequency", "1", "--max-length", "32",
                 "--out", str(out), "--no-progress"]) == 0
    assert "len32/train" in capsys.readouterr().out
    assert Tokenizer.load(out / "tokenizer").vocab_size <= 150
    assert len(PackedSequences(out / "len32" / "train")) > 0
    assert main(["corpus", "pack", str(tmp_path / "missing"), "--vocab-size", "150", "--out", str(out)]) == 2


def parse_pretrain(*argv: str) -> PretrainOptions:
    return from_args(PretrainOptions, build_parser("pretrain").parse_args(["pretrain", *argv]))


def test_pretrain_options_from_the_command_line(tmp_path: Path, capsys) -> None:
    opts = parse_pretrain("--data", "p", "--out", "o", "--phase", "128:90", "--phase", "512:10",
                          "--no-length-grouping", "--no-progress")
    assert opts.phases == ["128:90", "512:10"] and opts.length_grouping is False and opts.progress is False
    opts = parse_pretrain("--data", "p", "--out", "o")
    assert opts.phases == ["128:1000"] and opts.length_grouping and opts.progress and opts.model == "tiny"
    out = str(tmp_path / "never-written")
    assert main(["pretrain", "--data", "p", "--out", out, "--phase", "128", "--phase", "4:10"]) == 2
    err = capsys.readouterr().err
    assert "--phase: '128': expected LENGTH:STEPS, e.g. 128:1000" in err and "'4:10': length must be >= 8" in err
    assert main(["pretrain", "--data", "p", "--out", out, "--batch-size", "0", "--eval-every", "-1"]) == 2
    assert "--batch-size: must be > 0, got 0; --eval-every: must be >= 0, got -1" in capsys.readouterr().err
    assert not Path(out).exists()


def test_length_grouping_option_reaches_the_task(packed: Path, tmp_path: Path, monkeypatch) -> None:
    class Stop(Exception):
        pass

    seen = []

    def capture(*args, group_by_length: int, **kwargs):
        seen.append(group_by_length)
        raise Stop

    monkeypatch.setattr("wellread.train.pretrain.PretrainingTask", capture)
    for grouping in (True, False):
        with pytest.raises(Stop):
            pretrain(PretrainOptions(data=str(packed), out=tmp_path / str(grouping), phases=["32:1"], batch_size=4,
                                     length_grouping=grouping, progress=False))
    assert seen == [4, 0]  # grouped by the batch size, or plain shuffled


def test_corpus_pack_takes_one_vocabulary_and_checks_lengths(tmp_path: Path, capsys) -> None:
    corpus, out = write_corpus(tmp_path, docs=5), str(tmp_path / "packed")
    assert main(["corpus", "pack", str(corpus), "--out", out]) == 2
    assert "give --tokenizer (an existing vocabulary) or --vocab-size" in capsys.readouterr().err
    assert main(["corpus", "pack", str(corpus), "--out", out, "--tokenizer", "tok/", "--vocab-size", "100"]) == 2
    assert "--vocab-size: give an existing tokenizer or a vocab_size to train one, not both" in \
        capsys.readouterr().err
    assert main(["corpus", "pack", str(corpus), "--out", out, "--vocab-size", "100", "--max-length", "4", "32"]) == 2
    assert "--max-length: values must be in 8..4096, got [4]" in capsys.readouterr().err
    assert not Path(out).exists()


@pytest.mark.slow
def test_training_curves_plot(packed: Path, tmp_path: Path) -> None:
    run_training(packed, tmp_path / "run", 3)
    png = tmp_path / "curves.png"
    assert main(["plot", str(tmp_path / "run" / "log.jsonl"), str(tmp_path / "run" / "log.jsonl"),
                 "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_fixes_the_initial_weights(packed: Path) -> None:
    tokenizer = Tokenizer.load(packed / "tokenizer")
    first, again, other = (initial_model("tiny", tokenizer, 128, seed) for seed in (3, 3, 4))
    weight = "bert.encoder.layer.0.attention.self.query.weight"
    assert torch.equal(first.state_dict()[weight], again.state_dict()[weight])
    assert not torch.equal(first.state_dict()[weight], other.state_dict()[weight])


def test_pretrain_out_holding_another_model_needs_overwrite(packed: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "someone-elses-model"
    out.mkdir()
    (out / "config.json").write_text("{}", encoding="utf-8")
    argv = ["pretrain", "--data", str(packed), "--out", str(out), "--phase", "32:1", "--batch-size", "4",
            "--eval-every", "0", "--eval-sequences", "8", "--no-progress", "--bf16", "off"]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "config.json").read_text(encoding="utf-8") == "{}"
    assert main([*argv, "--overwrite"]) == 0
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["model_type"] == "bert"
    assert main(argv) == 0  # the same job again: no --overwrite needed
