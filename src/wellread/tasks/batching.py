"""Batching encoded inputs for a model, shared by training, evaluation and serving: dynamic padding (each batch
padded to its longest row) and inference batches of similar lengths."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor


def pad_rows(rows: Sequence[np.ndarray], value: int) -> Tensor:
    """Integer rows of different lengths -> (B, T) LongTensor padded with `value` to the longest row."""
    out = torch.full((len(rows), max(len(r) for r in rows)), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.from_numpy(np.asarray(row, dtype=np.int64))
    return out


def pad_inputs(ids: Sequence[np.ndarray], types: Sequence[np.ndarray], pad_id: int) -> dict[str, Tensor]:
    """Dynamic padding: input_ids, attention_mask and token_type_ids (B, T), T = the longest in the batch."""
    input_ids = pad_rows(ids, pad_id)  # (B, T)
    lengths = torch.tensor([len(r) for r in ids])
    attention_mask = (torch.arange(input_ids.shape[1])[None] < lengths[:, None]).long()  # (B, T)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": pad_rows(types, 0)}


def eval_batches(lengths: Sequence[int] | np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Indices in batches of similar length (sorted), for inference; callers put results back by index."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]
