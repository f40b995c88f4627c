"""Zero-shot semantic similarity: cosine similarities of sentence vectors, and the trivial baseline beside them.

The baseline is the cosine of the two sentences' bag-of-words count vectors (lower-cased words, `WORD`): how
much of the gold similarity plain word overlap already explains. An embedding model worth its cost beats it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

WORD = re.compile(r"\w+")


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of (N, H) and (N, H) -> (N,); 0 where a row is all zeros."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)  # (N,)
    return np.where(norms > 0, (a * b).sum(1) / np.maximum(norms, 1e-300), 0.0)


def bag_of_words_cosine(first: Sequence[str], second: Sequence[str]) -> list[float]:
    """Per pair, the cosine of the two texts' lower-cased word-count vectors (0 when a text has no word)."""
    scores = []
    for a, b in zip(first, second, strict=True):
        ca, cb = Counter(WORD.findall(a.lower())), Counter(WORD.findall(b.lower()))
        dot = sum(n * cb[w] for w, n in ca.items())
        norm = (sum(n * n for n in ca.values()) * sum(n * n for n in cb.values())) ** 0.5
        scores.append(dot / norm if norm else 0.0)
    return scores
