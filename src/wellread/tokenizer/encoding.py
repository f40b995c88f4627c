"""Encoded texts: the `Encoding` record, truncation strategies and padding a batch into tensors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import tokenizers

from wellread.errors import TokenizerError

if TYPE_CHECKING:
    import torch

Truncation = Literal["longest_first", "only_first", "only_second"]
TRUNCATION_STRATEGIES: tuple[str, ...] = ("longest_first", "only_first", "only_second")


@dataclass
class Encoding:
    """One encoded text or text pair; every list has one entry per token.

    `offsets` are character offsets into the text each token came from ((0, 0) for special tokens);
    `word_ids` and `sequence_ids` are None for special tokens. `overflowing` holds the pieces cut off by
    truncation (each one a full Encoding, see `Tokenizer.encode_windows`).
    """

    ids: list[int]
    type_ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]
    attention_mask: list[int]
    special_tokens_mask: list[int]
    word_ids: list[int | None]
    sequence_ids: list[int | None]
    overflowing: list[Encoding] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_library(cls, enc: tokenizers.Encoding, with_overflowing: bool = True) -> Encoding:
        """Copy a `tokenizers.Encoding` (and, when asked, its overflowing pieces)."""
        return cls(
            ids=list(enc.ids),
            type_ids=list(enc.type_ids),
            tokens=list(enc.tokens),
            offsets=[tuple(o) for o in enc.offsets],
            attention_mask=list(enc.attention_mask),
            special_tokens_mask=list(enc.special_tokens_mask),
            word_ids=list(enc.word_ids),
            sequence_ids=list(enc.sequence_ids),
            overflowing=[cls.from_library(o, False) for o in enc.overflowing] if with_overflowing else [],
        )


def truncation_strategy(truncation: str | bool | None) -> str | None:
    """The library's strategy name for a `truncation` argument (True = "longest_first"), None for no truncation."""
    if truncation is None or truncation is False:
        return None
    if truncation is True:
        return "longest_first"
    if truncation not in TRUNCATION_STRATEGIES:
        raise TokenizerError(f"truncation must be one of {', '.join(TRUNCATION_STRATEGIES)} or None, "
                             f"got {truncation!r}")
    return truncation


def pad_encodings(encodings: Sequence[Encoding], pad_token_id: int, pad_to_multiple_of: int | None = None,
                  padding_side: Literal["right", "left"] = "right") -> dict[str, torch.Tensor]:
    """Pad encodings to the longest (rounded up to `pad_to_multiple_of`) as LongTensors (batch, length).

    Returns input_ids (`pad_token_id` in the padding), attention_mask (0 there) and token_type_ids (0 there).
    """
    import torch

    if not encodings:
        raise TokenizerError("pad got no encodings")
    if padding_side not in ("right", "left"):
        raise TokenizerError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    length = max(len(e) for e in encodings)
    if pad_to_multiple_of:
        length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
    out = {
        "input_ids": torch.full((len(encodings), length), pad_token_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(encodings), length), dtype=torch.long),
        "token_type_ids": torch.zeros((len(encodings), length), dtype=torch.long),
    }
    for row, enc in enumerate(encodings):
        n = len(enc)
        span = slice(0, n) if padding_side == "right" else slice(length - n, length)
        out["input_ids"][row, span] = torch.tensor(enc.ids, dtype=torch.long)
        out["attention_mask"][row, span] = torch.tensor(enc.attention_mask, dtype=torch.long)
        out["token_type_ids"][row, span] = torch.tensor(enc.type_ids, dtype=torch.long)
    return out
