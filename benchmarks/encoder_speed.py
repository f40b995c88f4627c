"""Encoder inference speed: wellread vs transformers, same weights, same inputs, in the same run.

Rows: presets tiny, mini, small x (batch 32 x 128 tokens, batch 1 x 128 tokens) x (fp32, bf16 autocast).
Prints sequences/s of each and the ratio wellread / transformers (median over interleaved repeats).

  python benchmarks/encoder_speed.py                 # all rows, 2 threads
  python benchmarks/encoder_speed.py --presets tiny --repeats 5
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
import transformers as hf

from wellread.config import preset
from wellread.models import build_model


def timed(fn, batch_size: int, min_seconds: float) -> float:
    """Sequences per second of fn() over at least min_seconds."""
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds or n < 3:
        fn()
        n += 1
    return n * batch_size / elapsed


def bench_row(name: str, batch: int, seq: int, dtype: str, repeats: int, seconds: float) -> dict:
    config = preset(name)
    ours = build_model(config, "base").eval()
    theirs = hf.BertModel(hf.BertConfig(**{k: v for k, v in config.to_dict().items() if k != "model_type"})).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ids = torch.randint(1000, config.vocab_size, (batch, seq))
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()

    def run_ours() -> None:
        with torch.inference_mode(), autocast():
            ours(ids, mask, types)

    def run_theirs() -> None:
        with torch.inference_mode(), autocast():
            theirs(input_ids=ids, attention_mask=mask, token_type_ids=types)

    for fn in (run_ours, run_theirs):  # warm-up
        timed(fn, batch, seconds / 2)
    a, b = [], []
    for _ in range(repeats):  # interleaved so drifts in machine load hit both equally
        a.append(timed(run_ours, batch, seconds))
        b.append(timed(run_theirs, batch, seconds))
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    return {"preset": name, "batch": batch, "seq": seq, "dtype": dtype, "wellread": statistics.median(a),
            "transformers": statistics.median(b), "ratio": statistics.median(ratios)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "mini", "small"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, transformers {hf.__version__}, {args.threads} threads")
    print("| preset | batch x seq | dtype | wellread seq/s | transformers seq/s | ratio |")
    print("|---|---|---|---:|---:|---:|")
    worst = float("inf")
    for name in args.presets:
        for batch in (32, 1):
            for dtype in ("fp32", "bf16"):
                r = bench_row(name, batch, 128, dtype, args.repeats, args.seconds)
                worst = min(worst, r["ratio"])
                print(f"| {name} | {batch} x 128 | {dtype} | {r['wellread']:.1f} | {r['transformers']:.1f} | "
                      f"{r['ratio']:.2f} |", flush=True)
    print(f"lowest ratio: {worst:.2f} (target >= 1.00)")


if __name__ == "__main__":
    main()
