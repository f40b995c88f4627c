"""Model FLOPs (models/flops.py), the peak probe and its cache (hardware.py), and MFU in the training log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import tiny_config
from torch.utils.flop_counter import FlopCounterMode

from wellread import hardware
from wellread.cli import main
from wellread.config import BertConfig, SqueezeBertConfig
from wellread.errors import WellreadError
from wellread.infer import bench
from wellread.models import build_model
from wellread.models.flops import batch_flops, forward_flops, training_flops
from wellread.train.loop import TrainArgs, Trainer, _show, _summarise

# Hand-counted: H = 64, F = 128, L = 2, V = 100; two inputs of 10 and 6 real tokens, 3 masked positions.
#   matmuls per token per layer 2 x (4 x 64^2 + 2 x 64 x 128) = 65,536; attention per layer 4 x 64 x s^2
#   s = 10: 655,360 + 25,600 = 680,960;  s = 6: 393,216 + 9,216 = 402,432;  x 2 layers = 2,166,784
#   MLM head 2 x (64^2 + 64 x 100) x 3 = 62,976  ->  forward 2,229,760, training 3 x = 6,689,280
CONFIG = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=128)


def test_forward_and_training_flops_match_the_hand_count() -> None:
    assert forward_flops(CONFIG, [10, 6]) == 2_166_784
    assert forward_flops(CONFIG, [10, 6], masked_tokens=3) == 2_229_760
    assert training_flops(CONFIG, [10, 6], masked_tokens=3) == 6_689_280


def test_padding_is_not_counted_and_the_head_runs_only_at_masked_positions() -> None:
    mask = torch.tensor([[1] * 10, [1] * 6 + [0] * 4])  # (2, 10)
    masked = torch.zeros(2, 10, dtype=torch.bool)
    masked[0, [1, 4]] = masked[1, 2] = True
    assert batch_flops(CONFIG, {"attention_mask": mask, "masked_positions": masked}) == 6_689_280
    assert batch_flops(CONFIG, {"attention_mask": mask}, training=False) == 2_166_784


def test_squeezebert_divides_each_position_wise_layer_by_its_groups() -> None:
    config = SqueezeBertConfig(vocab_size=100, hidden_size=64, embedding_size=64, num_hidden_layers=1,
                               num_attention_heads=4, intermediate_size=128, q_groups=4, k_groups=4, v_groups=4,
                               post_attention_groups=1, intermediate_groups=4, output_groups=4)
    # per token: 2 x (3 x 64^2 / 4 + 64^2 + 2 x 64 x 128 / 4) = 2 x 11,264; attention 4 x 64 x 8^2 for 8 tokens
    assert forward_flops(config, [8]) == 8 * 2 * 11_264 + 4 * 64 * 64


def test_the_model_runs_the_counted_matrix_products() -> None:
    """torch's own FLOP counter sees every Linear of the encoder and the MLM head: they must equal the formula
    less the attention products (scores and context, which it does not see through the fused attention)."""
    config = tiny_config(100, hidden=64, heads=4, intermediate=128, dropout=0.0)
    model = build_model(config, "masked-lm").eval()
    ids = torch.randint(5, 100, (1, 10))  # (1, 10)
    positions = torch.zeros(1, 10, dtype=torch.bool)
    positions[0, [2, 5, 7]] = True
    with FlopCounterMode(display=False) as counter:
        model(ids, torch.ones_like(ids), torch.zeros_like(ids), masked_positions=positions)
    linear = counter.get_flop_counts()["Global"]
    counted = sum(v for op, v in linear.items() if str(op) in ("aten.addmm", "aten.mm"))
    attention = config.num_hidden_layers * 4 * config.hidden_size * 10 * 10
    assert counted + attention == forward_flops(config, [10], masked_tokens=3)


def test_summary_turns_flops_into_mfu_and_the_bar_shows_a_percentage() -> None:
    window = [{"loss": 1.0, "grad_norm": 1.0, "tokens": 100.0, "flops": 3e9},
              {"loss": 3.0, "grad_norm": 1.0, "tokens": 300.0, "flops": 1e9}]
    summary = _summarise(window, seconds=2.0, peak=10e9)
    assert summary["tokens_per_s"] == 200.0 and summary["mfu"] == pytest.approx(0.2)
    assert "mfu" not in _summarise(window, seconds=2.0, peak=None)
    assert _show("mfu", 0.2034) == "20.3%" and _show("loss", 1.23456) == "1.235"


def test_probe_measures_every_precision_with_its_flops() -> None:
    result = hardware.probe(shapes=((64, 32, 16), (32, 64, 16)), seconds=0.0, repeats=1)
    assert {"fp32", "bf16"} <= set(result["peak"]) and result["int8"] == hardware.INT8_METHOD
    for precision, peak in result["peak"].items():
        rates = [r["flops_per_s"] for r in result["rates"] if r["precision"] == precision]
        assert len(rates) == 2 and peak == max(rates) > 0


def test_peak_is_measured_once_then_read_from_the_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WELLREAD_CACHE", str(tmp_path))
    monkeypatch.delenv("WELLREAD_PEAK", raising=False)
    calls = []

    def fake_probe(seconds: float) -> dict:
        calls.append(seconds)
        return {"peak": {"fp32": 1e11, "bf16": 4e11}, "rates": [], "int8": "none"}

    monkeypatch.setattr(hardware, "probe", fake_probe)
    assert hardware.peak_flops("bf16") == 4e11 and hardware.peak_flops("fp32") == 1e11
    assert len(calls) == 1  # the second call read the cache
    stored = json.loads(hardware.cache_path().read_text())
    assert stored["key"] == hardware.machine_key() and stored["peak"]["bf16"] == 4e11
    assert hardware.measured_peak()["cached"] == str(hardware.cache_path())
    assert hardware.measured_peak(use_cache=False)["cached"] is None and len(calls) == 2  # --no-cache
    monkeypatch.setattr(hardware, "machine_key", lambda: {"cpu": "another", "threads": 1})
    hardware.peak_flops("fp32")
    assert len(calls) == 3  # another machine key: measured again


def test_wellread_peak_overrides_the_probe(monkeypatch) -> None:
    monkeypatch.setattr(hardware, "probe", lambda seconds: pytest.fail("probed"))
    monkeypatch.setenv("WELLREAD_PEAK", "off")
    assert hardware.peak_flops("fp32") is None
    monkeypatch.setenv("WELLREAD_PEAK", "2.5e11")
    assert hardware.peak_flops("bf16") == 2.5e11
    monkeypatch.setenv("WELLREAD_PEAK", "fast")
    with pytest.raises(WellreadError, match="WELLREAD_PEAK"):
        hardware.peak_flops("fp32")


def test_features_read_the_cpu_flags(monkeypatch) -> None:
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert hardware.features() == {name: name in ("avx2", "amx_bf16") for name in hardware.FEATURES}
    assert hardware.bf16_supported()
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "avx512f"})
    assert not hardware.bf16_supported()


def test_doctor_prints_the_machine_and_caches_the_probe(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WELLREAD_CACHE", str(tmp_path))
    monkeypatch.setattr(hardware, "SHAPES", ((64, 32, 16),))  # a probe of milliseconds
    threads = torch.get_num_threads()
    try:
        assert main(["doctor", "--json", "--seconds", "0.01", "--threads", "1"]) == 0
        first = json.loads(capsys.readouterr().out)
        assert first["probe"]["cached"] is None and first["threads"] == 1 and first["cpu"] == hardware.cpu_model()
        assert [r["shape"] for r in first["probe"]["rates"]][:1] == [[64, 32, 16]]
        assert set(first["features"]) == set(hardware.FEATURES)
        assert first["auto"]["training"] == ("bf16 autocast" if hardware.bf16_supported() else "fp32")
        assert main(["doctor", "--threads", "1"]) == 0
        text = capsys.readouterr().out
        assert f"CPU: {hardware.cpu_model()}" in text and "fp32" in text and f"cached in {tmp_path}" in text
        assert main(["doctor", "--json", "--no-cache", "--seconds", "0.01", "--threads", "1"]) == 0
        assert json.loads(capsys.readouterr().out)["probe"]["cached"] is None
    finally:
        torch.set_num_threads(threads)


def test_bench_rows_get_the_mfu_of_their_precision(monkeypatch) -> None:
    peaks = {"fp32": 1e11, "bf16": 4e11, "int8": 8e11}
    monkeypatch.setattr(bench, "peak_flops", lambda precision: peaks[precision])
    rows = [bench.Timing(name, 16, 1.0, 2.0, throughput=500.0, batch_size=4)
            for name in ("torch", "torch-bf16", "onnx-int8")]
    # 4 inputs of 16 tokens, forward only; masked-LM: the head at positions 1, 8 and 15 of each
    batches_per_s = 500.0 / 4
    plain = forward_flops(CONFIG, [16] * 4) * batches_per_s
    with_head = forward_flops(CONFIG, [16] * 4, masked_tokens=12) * batches_per_s
    assert [r.mfu for r in bench.with_mfu(rows, CONFIG, 2000, masked_lm=False)] == pytest.approx(
        [plain / 1e11, plain / 4e11, plain / 8e11])
    assert bench.with_mfu(rows[:1], CONFIG, 2000, masked_lm=True)[0].mfu == pytest.approx(with_head / 1e11)
    assert "| torch | 16 | 1.00 | 2.00 | 500 | " + f"{100 * plain / 1e11:.1f}% |" in bench.table(
        bench.with_mfu(rows, CONFIG, 2000, False))
    monkeypatch.setattr(bench, "peak_flops", lambda precision: None)  # WELLREAD_PEAK=off
    assert bench.with_mfu(rows, CONFIG, 2000, False)[0].mfu is None and "| 500 | - |" in bench.table(rows)


class _Task:
    """Just enough of a Task for the Trainer to be built."""

    def num_examples(self) -> int:
        return 4


def test_trainer_counts_a_batch_from_its_mask_unless_the_task_counts_it(tmp_path: Path) -> None:
    model = build_model(CONFIG, "masked-lm")
    trainer = Trainer(model, _Task(), TrainArgs(tmp_path, batch_size=4, progress=False))
    mask = torch.tensor([[1] * 10, [1] * 6 + [0] * 4])  # (2, 10)
    masked = torch.zeros(2, 10, dtype=torch.bool)
    masked[0, [1, 4]] = masked[1, 2] = True
    batch = {"attention_mask": mask, "masked_positions": masked}
    assert trainer._size(batch) == {"flops": 6_689_280, "tokens": 16.0}
    assert trainer._size({"input_ids": mask}) == {}  # nothing to count from
    task = _Task()
    task.flops = lambda model, batch: 123.0  # a task that runs more than one pass counts its own
    assert Trainer(model, task, TrainArgs(tmp_path, batch_size=4, progress=False))._size(batch) == {"flops": 123.0}
