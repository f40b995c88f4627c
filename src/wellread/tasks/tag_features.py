"""Token classification features, shared by fine-tuning and the tag pipeline: words joined with spaces and
encoded as one text, each token mapped back to its word through its character offsets, and each word read at its
first sub-word token.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wellread.tokenizer import Tokenizer

ENCODE_CHUNK = 4096


def word_starts(words: Sequence[str]) -> tuple[str, np.ndarray]:
    """The words joined by single spaces and each word's first character offset."""
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    return " ".join(words), np.array(starts, dtype=np.int64)


def first_subwords(offsets: Sequence[tuple[int, int]], special: Sequence[int], starts: np.ndarray) -> np.ndarray:
    """(K, 2) rows (token position, word index) of each word's first sub-word token in one encoding."""
    rows, previous = [], -1
    for position, ((begin, end), is_special) in enumerate(zip(offsets, special, strict=True)):
        if is_special or end <= begin:
            continue
        word = int(np.searchsorted(starts, begin, side="right")) - 1
        if word != previous:
            rows.append((position, word))
            previous = word
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def encode_words(tok: Tokenizer, sentences: Sequence[Sequence[str]],
                 max_length: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token ids and first-sub-word maps ((K, 2) token position, word index) of word sequences."""
    ids, maps = [], []
    for chunk_start in range(0, len(sentences), ENCODE_CHUNK):
        joined = [word_starts(words) for words in sentences[chunk_start:chunk_start + ENCODE_CHUNK]]
        encs = tok.encode_batch([text for text, _ in joined], max_length=max_length, truncation="longest_first")
        for enc, (_, starts) in zip(encs, joined, strict=True):
            ids.append(np.asarray(enc.ids, dtype=np.int32))
            maps.append(first_subwords(enc.offsets, enc.special_tokens_mask, starts))
    return ids, maps
