"""Batch orders for the training loop."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

MEGABATCH = 50
"""Batches per sorting window of the length-grouped order (as `transformers`' LengthGroupedSampler)."""


def length_grouped_order(lengths: Sequence[int] | np.ndarray, batch_size: int, generator: torch.Generator,
                         megabatch: int = MEGABATCH) -> list[int]:
    """A permutation of range(len(lengths)) whose consecutive `batch_size` slices hold similar lengths.

    Shuffle, cut into windows of `megabatch` batches, sort each window by length (longest first), cut into
    batches and shuffle the batches. A short last batch stays last, so slicing by `batch_size` (what the
    loop does) never mixes it into a full one and `drop_last` drops exactly it. With dynamic padding this
    removes most padding at no cost in randomness that matters.
    """
    lengths = np.asarray(lengths)
    n = len(lengths)
    perm = torch.randperm(n, generator=generator).numpy()
    window = batch_size * megabatch
    grouped = np.concatenate([chunk[np.argsort(-lengths[chunk], kind="stable")]
                              for chunk in np.split(perm, list(range(window, n, window)))]) if n else perm
    batches = [grouped[i:i + batch_size] for i in range(0, n, batch_size)]
    tail = [batches.pop()] if batches and len(batches[-1]) < batch_size else []
    shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return np.concatenate(shuffled + tail).tolist() if n else []
