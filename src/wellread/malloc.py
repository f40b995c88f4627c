"""glibc malloc settings for training: keep freed memory instead of handing it back to the kernel.

With tensors whose shapes change every step (dynamic padding, length-grouped batches), glibc's defaults return
large freed blocks to the kernel (heap trimming, and mmap for blocks above a threshold that grows and shrinks),
then fault the pages back in on the next step: on this project's machine a third of fine-tuning CPU time was
kernel time. Raising the trim threshold, the top pad and fixing the mmap threshold at its maximum removes most of
it (docs/benchmarks.md, "glibc malloc settings"). Peak memory is unchanged: the memory is reused, not grown.

Set WELLREAD_MALLOC=default to keep glibc's defaults. Nothing happens on other C libraries.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # mallopt parameters, from glibc's malloc.h
SETTINGS = {M_TRIM_THRESHOLD: 1 << 30, M_TOP_PAD: 256 << 20, M_MMAP_THRESHOLD: 32 << 20}
"""Trim only above 1 GiB free at the top of the heap, grow the heap 256 MiB at a time, mmap only blocks of
32 MiB (glibc's maximum) and more."""


def tune_malloc() -> bool:
    """Apply SETTINGS through glibc's mallopt; returns whether they were applied."""
    if os.environ.get("WELLREAD_MALLOC", "") == "default":
        return False
    name = ctypes.util.find_library("c")
    if not name or "libc.so" not in name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(param, value) == 1 for param, value in SETTINGS.items())
