"""Show what this machine can do for wellread: the CPU and its ISA features, torch's threads, the memory
allocator, the backends `auto` chooses, and the measured peak matrix-product rates in fp32, bf16 and int8.

The peak is the best rate of a few large GEMMs (4096x256 @ 256x1024, 4096x1024 @ 1024x256, 2048x768 @ 768x3072)
per precision; int8 is timed with torch._int_mm (int8 x int8 -> int32). It is the denominator of the MFU (model
FLOPs utilisation) that training logs and `wellread bench` report, measured once per CPU model, thread count and
torch version and kept in the user's cache folder ($WELLREAD_CACHE, else $XDG_CACHE_HOME/wellread or
~/.cache/wellread). WELLREAD_PEAK=off turns MFU off everywhere; a number there (FLOP/s) replaces the probe.

Examples:
  wellread doctor
  wellread doctor --json
  wellread doctor --no-cache --threads 1       # measure again, with 1 thread
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch

from wellread.hardware import PRECISIONS, report
from wellread.infer.backends import AUTO_BF16_TOKENS
from wellread.malloc import tune_malloc
from wellread.options import option, positive
from wellread.train.run import bf16_enabled


@dataclass(kw_only=True)
class DoctorOptions:
    """`wellread doctor`: this machine's CPU, settings and measured peak rates."""

    json: bool = option(False, help="print one JSON object instead of text")
    cache: bool = option(True, help="measure the peak again instead of reading the cached result (the new result "
                                    "replaces it)")
    threads: int = option(0, help="torch threads to measure with (0: torch's choice)")
    seconds: float = option(0.3, help="time per GEMM measurement")

    def check(self) -> list[tuple[str, str]]:
        return positive(self, "seconds") + ([("threads", "must be >= 0")] if self.threads < 0 else [])


OPTIONS = DoctorOptions


def run(options: DoctorOptions) -> int:
    if options.threads:
        torch.set_num_threads(options.threads)
    result: dict[str, Any] = report(use_cache=options.cache, seconds=options.seconds)
    tuned = result["allocator"] == "glibc malloc" and tune_malloc()
    result["malloc_tuned"] = tuned
    result["auto"] = {"inference": f"torch with bf16 autocast for batches of {AUTO_BF16_TOKENS}+ tokens"
                      if result["bf16_native"] else "torch fp32",
                      "training": "bf16 autocast" if bf16_enabled("auto") else "fp32"}
    if options.json:
        print(json.dumps(result))
        return 0
    probe = result["probe"]
    print(f"CPU: {result['cpu']}")
    print("ISA: " + ", ".join(f"{name} {'yes' if has else 'no'}" for name, has in result["features"].items())
          + f"; torch kernels: {result['torch_capability']}")
    print(f"torch {result['torch']}, {result['threads']} thread(s)")
    print(f"allocator: {result['allocator']}" + (" with wellread's settings (wellread.malloc; WELLREAD_MALLOC=default "
                                                 "keeps glibc's)" if tuned else ""))
    auto = result["auto"]
    print(f"auto backends: inference {auto['inference']}; training (--bf16 auto) {auto['training']}")
    print(f"peak GEMM rates, {result['threads']} thread(s) (the MFU denominators):")
    for precision in PRECISIONS:
        rates = [r for r in probe["rates"] if r["precision"] == precision]
        if not rates:
            print(f"  {precision:<5} not available in this torch")
            continue
        best = max(rates, key=lambda r: r["flops_per_s"])
        shapes = ", ".join(f"{m}x{k}@{k}x{n} {r['flops_per_s'] / 1e9:,.0f}" for r in rates for m, k, n in [r["shape"]])
        method = f"; {probe['int8']}" if precision == "int8" else ""
        print(f"  {precision:<5} {best['flops_per_s'] / 1e9:>9,.0f} GFLOP/s   ({shapes}{method})")
    print(f"cached in {probe['cached']}" if probe["cached"] else "measured now (and cached)")
    return 0
