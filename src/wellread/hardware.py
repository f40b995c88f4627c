"""What this machine's CPU can do: its ISA features (for bf16 autocast choices) and its measured peak matrix-product
rate per precision (the denominator of model-FLOPs utilisation, MFU).

The peak is the best rate of a few large GEMMs (`SHAPES`) in fp32, bf16 and int8, timed with the one timing loop
(wellread.timing). It is measured once per CPU model, torch thread count and torch version and kept in a JSON
file under the user's cache folder (`cache_dir`), so training reads it instead of re-measuring. WELLREAD_PEAK
overrides it: `off` (no MFU anywhere: the test suite sets this) or a number of FLOP/s used for every precision.

    peak = peak_flops("bf16")           # FLOP/s, measured on first use and cached; None when WELLREAD_PEAK=off
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from wellread.errors import WellreadError
from wellread.timing import time_calls

FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "avx_vnni")
"""The /proc/cpuinfo flags that decide which matrix kernels run: AVX2 / AVX-512 fp32, native bf16 (AVX512-BF16,
AMX tiles), int8 dot products (VNNI, AMX-INT8)."""
SHAPES: tuple[tuple[int, int, int], ...] = ((4096, 256, 1024), (4096, 1024, 256), (2048, 768, 3072))
"""(m, k, n) of the probe's products (m x k) @ (k x n): a compact model's q/k/v, FFN in and FFN out shapes."""
PRECISIONS = ("fp32", "bf16", "int8")
INT8_METHOD = "torch._int_mm (int8 x int8 -> int32)"
PROBE_VERSION = 1
"""Part of the cache key: a change to how the probe measures makes old results stale."""


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform module says."""
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        match = None
    return match.group(1).strip() if match else (platform.processor() or platform.machine() or "unknown CPU")


def bf16_supported() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX), where autocast pays."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def features() -> dict[str, bool]:
    """Each of `FEATURES`: whether the CPU has it."""
    flags = cpu_flags()
    return {name: name in flags for name in FEATURES}


def _product(precision: str, m: int, k: int, n: int) -> Callable[[], object]:
    """One (m x k) @ (k x n) product in `precision`, as a call to time."""
    g = torch.Generator().manual_seed(0)
    if precision == "int8":
        a = torch.randint(-64, 64, (m, k), dtype=torch.int8, generator=g)
        b = torch.randint(-64, 64, (k, n), dtype=torch.int8, generator=g)
        return lambda: torch._int_mm(a, b)  # (m, n) int32
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(m, k, generator=g).to(dtype), torch.randn(k, n, generator=g).to(dtype)
    return lambda: torch.mm(a, b)  # (m, n)


def probe(shapes: Sequence[tuple[int, int, int]] | None = None, seconds: float = 0.3,
          repeats: int = 3) -> dict[str, Any]:
    """Measure the best GEMM rate per precision over `shapes` (default `SHAPES`; each timed for >= `repeats` calls
    and >= `seconds` after one warm-up call; the fastest call counts). Returns {"peak": {precision: FLOP/s},
    "rates": [{precision, shape, flops_per_s}], "int8": method}; a precision this torch cannot run is left out
    of "peak"."""
    rates, peak = [], {}
    for precision in PRECISIONS:
        for m, k, n in shapes or SHAPES:
            try:
                call = _product(precision, m, k, n)
                best = min(time_calls(call, warmup=1, repeats=repeats, seconds=seconds))
            except RuntimeError:  # e.g. no int8 GEMM kernel in this build
                continue
            rate = 2.0 * m * k * n / best
            rates.append({"precision": precision, "shape": [m, k, n], "flops_per_s": rate})
            peak[precision] = max(peak.get(precision, 0.0), rate)
    return {"peak": peak, "rates": rates, "int8": INT8_METHOD}


def cache_dir() -> Path:
    """Where measured peaks are kept: $WELLREAD_CACHE, else $XDG_CACHE_HOME/wellread, else ~/.cache/wellread."""
    if os.environ.get("WELLREAD_CACHE"):
        return Path(os.environ["WELLREAD_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wellread"


def machine_key() -> dict[str, Any]:
    """What a measured peak depends on: the CPU model, torch's thread count and torch's version."""
    return {"cpu": cpu_model(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "probe_version": PROBE_VERSION}


def cache_path(key: dict[str, Any] | None = None) -> Path:
    """The cache file of `key` (this machine's when None)."""
    digest = hashlib.sha256(json.dumps(key or machine_key(), sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"peak-{digest}.json"


def measured_peak(use_cache: bool = True, seconds: float = 0.3) -> dict[str, Any]:
    """This machine's probe result with its key (`machine_key`), from the cache unless `use_cache` is False or
    there is none; a fresh result is written to the cache (a cache that cannot be written is skipped). The
    result's "cached" says which."""
    key = machine_key()
    path = cache_path(key)
    if use_cache and path.is_file():
        try:
            result = json.loads(path.read_text())
            if result.get("key") == key:
                return {**result, "cached": str(path)}
        except (OSError, ValueError):
            pass  # unreadable: measure again and replace it
    result = {"key": key, **probe(seconds=seconds)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: the figure is still right, only measured again next time
    return {**result, "cached": None}


def peak_flops(precision: str) -> float | None:
    """The MFU denominator for `precision` (fp32, bf16 or int8) in FLOP/s: WELLREAD_PEAK when it is a number,
    None when it is `off` or the precision cannot be measured, else the cached (or freshly measured) probe."""
    setting = os.environ.get("WELLREAD_PEAK", "").strip()
    if setting.lower() == "off":
        return None
    if setting:
        try:
            return float(setting)
        except ValueError:
            raise WellreadError(f"WELLREAD_PEAK={setting!r}: expected 'off' or a number of FLOP/s") from None
    if not cache_path().is_file():
        print("measuring this CPU's peak GEMM rates for MFU (once per machine and thread count; `wellread doctor` "
              "shows them)", file=sys.stderr, flush=True)
    return measured_peak()["peak"].get(precision)


def allocator() -> str:
    """The memory allocator of this process: jemalloc or tcmalloc when preloaded, else the C library's malloc."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        maps = ""
    for name in ("jemalloc", "tcmalloc", "mimalloc"):
        if f"lib{name}" in maps:
            return name
    return "glibc malloc" if platform.libc_ver()[0] == "glibc" else "the C library's malloc"


def report(use_cache: bool = True, seconds: float = 0.3) -> dict[str, Any]:
    """What `wellread doctor` prints: the CPU, its ISA features, torch's version, threads and CPU capability, the
    allocator, and the measured peak GEMM rates (`measured_peak`)."""
    return {"cpu": cpu_model(), "features": features(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "torch_capability": torch.backends.cpu.get_cpu_capability(),
            "allocator": allocator(), "bf16_native": bf16_supported(),
            "probe": measured_peak(use_cache=use_cache, seconds=seconds)}
