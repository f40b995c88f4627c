"""What this machine's CPU can do, for choices made at run time (bf16 autocast)."""

from __future__ import annotations

from pathlib import Path


def bf16_supported() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX), where autocast pays."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
