"""Masked-LM input corruption: WordPiece masking or whole-word masking, 80/10/10.

Each sequence gets exactly round(rate * maskable tokens) masked positions (at least one), chosen among
its non-special tokens; of those, 80% become [MASK], 10% a random token, 10% stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass
class Masked:
    input_ids: Tensor  # (B, T) corrupted inputs
    positions: Tensor  # (B, T) bool, True where the model must predict the original token
    labels: Tensor  # (M,) original tokens at `positions`, row-major order (as tensor[positions] gives)


def _counts(maskable: Tensor, rate: float) -> Tensor:
    n = maskable.sum(1)  # (B,)
    return torch.where(n > 0, (n.float() * rate).round().clamp(min=1), torch.zeros_like(n, dtype=torch.float)).long()


def choose_wordpieces(maskable: Tensor, rate: float, g: torch.Generator) -> Tensor:
    """(B, T) bool maskable -> (B, T) bool chosen: the k lowest random scores among maskable tokens."""
    scores = torch.rand(maskable.shape, generator=g).masked_fill(~maskable, 2.0)
    rank = scores.argsort(1).argsort(1)  # (B, T) position of each token in its row's order
    return rank < _counts(maskable, rate)[:, None]


def choose_whole_words(maskable: Tensor, word_start: Tensor, rate: float, g: torch.Generator) -> Tensor:
    """Whole-word masking: shuffle each row's words and take whole words until k tokens are chosen."""
    chosen = torch.zeros_like(maskable)
    counts = _counts(maskable, rate).tolist()
    seeds = torch.randint(0, 2**31 - 1, (maskable.size(0),), generator=g).tolist()
    for row, (k, seed) in enumerate(zip(counts, seeds, strict=True)):
        cand = maskable[row].nonzero().flatten().numpy()
        if k == 0 or cand.size == 0:
            continue
        starts = word_start[row, cand].numpy().copy()
        starts[0] = True  # a continuation right after a special token still begins a maskable word
        words = np.split(cand, np.flatnonzero(starts)[1:])
        picked: list[int] = []
        for w in np.random.default_rng(seed).permutation(len(words)):
            if len(picked) >= k:
                break
            if len(picked) + len(words[w]) > k and picked:
                continue
            picked.extend(words[w].tolist())
        chosen[row, picked] = True
    return chosen


def mask_tokens(input_ids: Tensor, maskable: Tensor, *, mask_id: int, vocab_size: int, rate: float = 0.15,
                g: torch.Generator, word_start: Tensor | None = None) -> Masked:
    """Corrupt (B, T) input_ids. maskable: (B, T) bool, False at [CLS]/[SEP]/padding.

    word_start: (B, T) bool, True where a token begins a word (not a `##` piece); enables whole-word masking.
    """
    if word_start is None:
        positions = choose_wordpieces(maskable, rate, g)
    else:
        positions = choose_whole_words(maskable, word_start, rate, g)
    labels = input_ids[positions]
    r = torch.rand(labels.shape, generator=g)
    random_tokens = torch.randint(0, vocab_size, labels.shape, generator=g)
    replaced = torch.where(r < 0.8, torch.full_like(labels, mask_id), torch.where(r < 0.9, random_tokens, labels))
    corrupted = input_ids.clone()
    corrupted[positions] = replaced
    return Masked(corrupted, positions, labels)
