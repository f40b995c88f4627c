"""fp32 inference GEMM kernels on this CPU: MKL (F.linear) vs oneDNN with a plain and with a packed weight.

`wellread.models.kernels.linear` runs oneDNN on a packed weight except for one row, where it runs F.linear: this
prints the evidence, for all-MiniLM-L6-v2's three weight shapes and row counts from one (a batch-1 pooler or
classifier) to 100 (a batch of short sentences), 1 thread, each kernel called back to back (weights warm in
cache; in a model the weights come from further away and every kernel is slower, MKL's one-row product still
about 2x faster). Prints microseconds per call (best of --repeats) and each oneDNN variant's ratio to MKL.

  python benchmarks/linear_kernels.py
  python benchmarks/linear_kernels.py --rows 1 4 25 --calls 5000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from wellread.malloc import tune_malloc

SHAPES = ((384, 384), (1536, 384), (384, 1536))  # (out, in): attention output, FFN in, FFN out


def best_us(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Best-of-`repeats` mean microseconds per call of `fn` over `calls` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 4, 12, 25, 100])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tune_malloc()
    torch.set_num_threads(1)
    mkldnn = torch.ops.mkldnn
    print(f"torch {torch.__version__}, 1 thread; microseconds per call (ratio: MKL time / oneDNN time)")
    print(f"{'weight':>12} {'rows':>5} {'MKL':>8} {'oneDNN plain':>17} {'oneDNN packed':>18}")
    with torch.inference_mode():
        for out_f, in_f in SHAPES:
            weight, bias = torch.randn(out_f, in_f), torch.randn(out_f)
            packed = mkldnn._reorder_linear_weight(weight)
            for rows in args.rows:
                x = torch.randn(rows, in_f)
                mkl = best_us(partial(F.linear, x, weight, bias), args.calls, args.repeats)
                plain, pack = (best_us(partial(mkldnn._linear_pointwise, x, w, bias, "none", [], ""), args.calls,
                                       args.repeats) for w in (weight, packed))
                print(f"{out_f:>5}x{in_f:<6} {rows:>5} {mkl:>8.1f} {plain:>9.1f} ({mkl / plain:.2f}x) "
                      f"{pack:>9.1f} ({mkl / pack:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
