"""Model latency and throughput across backends and sequence lengths, as a table and a PNG plot.

For each backend and length T: latency of one input of T tokens (p50 and p95 over repeated calls) and
throughput of batches of 32 such inputs (sequences per second, from the median batch time). Inputs are
unpadded random token ids, so this times the backend's forward pass alone (tokenization and batching are
timed end to end by benchmarks/e2e_classify.py). Each measurement repeats for about `seconds` seconds after a
warm-up, and at least `min_repeats` times. MFU is the throughput runs' model FLOPs (forward only, real tokens,
wellread.models.flops) per second over the CPU's peak GEMM rate in the backend's precision (wellread.hardware:
fp32 for torch and onnx, bf16 for torch-bf16, int8 for onnx-int8).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from wellread.config import BertConfig
from wellread.errors import WellreadError
from wellread.hardware import peak_flops
from wellread.infer.backends import ONNX_FILES, Backend, load_backend, pipeline_model
from wellread.infer.export import export_folder
from wellread.infer.load import TASK_HEADS, pipeline_task
from wellread.infer.options import BenchOptions
from wellread.models.flops import batch_flops
from wellread.models.folder import read_model_folder
from wellread.timing import time_calls


@dataclass
class Timing:
    """One backend at one sequence length."""

    backend: str
    length: int
    p50_ms: float  # batch 1
    p95_ms: float  # batch 1
    throughput: float  # sequences/s at batch `batch_size`
    batch_size: int
    mfu: float | None = None  # of the throughput runs; None without a peak (WELLREAD_PEAK=off)


PRECISION = {"torch": "fp32", "torch-bf16": "bf16", "onnx": "fp32", "onnx-int8": "int8"}
"""Each timed backend's matrix-product precision: whose peak rate its MFU is measured against."""


def random_batch(vocab_size: int, batch: int, length: int, masked_lm: bool, seed: int = 0) -> dict[str, Tensor]:
    """Unpadded random ids (B, T); for masked-LM every 7th token is a masked position."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, vocab_size, (batch, length), generator=generator)  # (B, T)
    out = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    if masked_lm:
        positions = torch.zeros_like(ids, dtype=torch.bool)
        positions[:, 1::7] = True
        out["masked_positions"] = positions
    return out


def repeat_times(backend: Backend, batch: dict[str, Tensor], seconds: float, min_repeats: int) -> np.ndarray:
    """Seconds per call over repeated calls (at least `min_repeats`, for at least `seconds`), after two warm-up
    calls."""
    return np.array(time_calls(lambda: backend.forward(batch), warmup=2, repeats=min_repeats, seconds=seconds))


def measure(backend: Backend, vocab_size: int, lengths: list[int], masked_lm: bool = False, batch_size: int = 32,
            seconds: float = 2.0, min_repeats: int = 5) -> list[Timing]:
    """Timings of `backend` at every length."""
    rows = []
    for length in lengths:
        single = repeat_times(backend, random_batch(vocab_size, 1, length, masked_lm), seconds, min_repeats)
        full = repeat_times(backend, random_batch(vocab_size, batch_size, length, masked_lm), seconds, min_repeats)
        rows.append(Timing(backend.name, length, 1000 * float(np.percentile(single, 50)),
                           1000 * float(np.percentile(single, 95)), batch_size / float(np.median(full)), batch_size))
    return rows


def with_mfu(rows: list[Timing], config: BertConfig, vocab_size: int, masked_lm: bool) -> list[Timing]:
    """`rows` with their MFU: the forward FLOPs of one throughput batch (the MLM head at its masked positions)
    x batches per second / the peak of the backend's precision (unchanged rows where there is no peak)."""
    out = []
    for r in rows:
        peak = peak_flops(PRECISION.get(r.backend, "fp32"))
        flops = batch_flops(config, random_batch(vocab_size, r.batch_size, r.length, masked_lm), training=False)
        out.append(replace(r, mfu=flops * r.throughput / r.batch_size / peak) if peak else r)
    return out


def table(rows: list[Timing]) -> str:
    """A Markdown table: one row per backend and length."""
    lines = ["| backend | length | batch-1 p50 ms | batch-1 p95 ms | batch-32 seq/s | batch-32 MFU |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.backend} | {r.length} | {r.p50_ms:.2f} | {r.p95_ms:.2f} | {r.throughput:.0f} | "
              f"{'-' if r.mfu is None else f'{100 * r.mfu:.1f}%'} |" for r in rows]
    return "\n".join(lines)


def plot(rows: list[Timing], path: str | Path, title: str) -> Path:
    """Latency (batch 1, p50) and throughput (batch 32) against length, one line per backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in dict.fromkeys(r.backend for r in rows):
        mine = [r for r in rows if r.backend == name]
        lengths = [r.length for r in mine]
        left.plot(lengths, [r.p50_ms for r in mine], marker="o", label=name)
        right.plot(lengths, [r.throughput for r in mine], marker="o", label=name)
    left.set(xlabel="sequence length (tokens)", ylabel="ms", title="latency, batch 1 (p50)", xscale="log",
             yscale="log")
    right.set(xlabel="sequence length (tokens)", ylabel="sequences / s",
              title=f"throughput, batch {rows[0].batch_size}", xscale="log", yscale="log")
    for axis in (left, right):
        axis.xaxis.set_minor_locator(NullLocator())
        axis.set_xticks(sorted({r.length for r in rows}), [str(n) for n in sorted({r.length for r in rows})])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def as_json(rows: list[Timing]) -> list[dict]:
    return [asdict(r) for r in rows]


def bench(options: BenchOptions) -> list[Timing]:
    """`wellread bench`: time the model of `options.model` on each backend and length (exporting it to ONNX in a
    temporary folder when `options.onnx_dir` or the model folder lacks the files); print the table, write
    bench.json and bench.png to `options.out`; returns the timings."""
    backends, lengths = options.backends, options.lengths
    if options.threads:
        torch.set_num_threads(options.threads)
    folder = read_model_folder(options.model)
    head = TASK_HEADS[pipeline_task(folder)]
    model = pipeline_model(folder, head)  # a bare encoder too (its token states), as the pipelines run it
    if max(lengths) > model.config.max_position_embeddings:
        raise WellreadError(f"length {max(lengths)} is over the model's "
                            f"{model.config.max_position_embeddings} positions")
    with tempfile.TemporaryDirectory() as scratch:
        onnx_dir = options.onnx_dir or folder.path
        wanted = [ONNX_FILES[b] for b in backends if b in ONNX_FILES]
        if any(not (onnx_dir / name).is_file() for name in wanted):
            onnx_dir = Path(scratch)
            print(f"exporting to ONNX first ({onnx_dir})")
            for agreement in export_folder(model, onnx_dir, source=folder.path, int8="onnx-int8" in backends):
                print(agreement.line())
        rows = []
        for name in backends:
            backend = load_backend(folder, head, name, onnx_dir, torch.get_num_threads())
            rows += measure(backend, model.config.vocab_size, lengths, head == "masked-lm", options.batch_size,
                            options.seconds)
            print(f"{name}: done", flush=True)
    rows = with_mfu(rows, model.config, model.config.vocab_size, head == "masked-lm")
    print(table(rows))
    options.out.mkdir(parents=True, exist_ok=True)
    meta = {"model": str(folder.path), "threads": torch.get_num_threads(), "rows": as_json(rows)}
    (options.out / "bench.json").write_text(json.dumps(meta, indent=2) + "\n")
    title = f"{folder.path.name}: {model.config.num_hidden_layers} layers x {model.config.hidden_size}, " \
            f"{torch.get_num_threads()} thread(s)"
    print(f"written {options.out / 'bench.json'} and {plot(rows, options.out / 'bench.png', title)}")
    return rows
