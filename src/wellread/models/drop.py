"""Token dropping inside the BERT encoder (Length-Adaptive Transformer, Kim & Cho 2021), with drop-and-restore.

A layer that shortens the sequence ranks the tokens it was given by significance (the attention each token
receives, summed over heads and real queries) and computes its attention output and FFN only for the top ones,
per example: padding is never selected and [CLS] always is (the pooler and the QA null answer read it).
Examples that keep fewer tokens than the longest in the batch are padded again, and the attention mask follows.

Drop-and-restore: every token's latest complete state is kept in a full-length buffer; a token dropped in
layer i keeps the state it entered layer i with, and at the end the survivors' final states are written back at
their original positions. The encoder therefore always returns (B, T, H) for the input's T, and every head
(sequence, token, QA, masked-LM) reads the positions it expects.

Shapes: B batch, T tokens now, T0 tokens of the input, T' tokens kept, N heads, H hidden size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from wellread.errors import ConfigError
from wellread.models.length import LengthConfig


def significance(probs: Tensor, mask: Tensor | None) -> Tensor:
    """Attention received by each key token, summed over heads and real queries: (B, N, T, T) -> (B, T).

    probs: the layer's attention probabilities (padded keys already masked out, as `attend` computes them);
    mask (B, 1, 1, T) bool or None. The sum over queries is one matrix-vector product with the query mask.
    """
    probs = probs.detach().float()
    if mask is None:
        return probs.sum((1, 2))  # (B, T)
    queries = mask.to(probs.dtype)  # (B, 1, 1, T): padded queries do not vote
    return (queries @ probs).sum(1)[:, 0]  # (B, N, 1, T) -> (B, T)


CHUNK_BYTES = 1 << 21
"""Attention probabilities `received_attention` holds at a time: small enough to stay in cache."""


@torch.no_grad()
def received_attention(q: Tensor, k: Tensor, mask: Tensor | None) -> Tensor:
    """`significance` straight from queries and keys (B, N, T, D), without keeping the (B, N, T, T) matrix.

    The probabilities are built a few examples at a time and summed at once, so they never leave the cache; the
    layer then computes attention (the fused kernel) for the kept queries only. On 190-token QA windows this is
    several times cheaper than materialising the whole matrix (and gathering and multiplying its kept rows).
    """
    B, N, T, D = q.shape
    scale = 1.0 / math.sqrt(D)
    if mask is None and B * N * T * T * 4 <= CHUNK_BYTES:  # small and unpadded (batch 1): a few ops in all
        return (q @ k.transpose(-1, -2)).mul_(scale).softmax(-1, dtype=torch.float32).sum((1, 2))  # (B, T)
    per = max(1, CHUNK_BYTES // (4 * N * T * T))  # examples per block
    queries = q.reshape(B * N, T, D)  # one copy at most (q is usually a transposed view)
    keys = k.reshape(B * N, T, D).transpose(1, 2)  # (B N, D, T)
    bias = voters = None  # without padding (always at batch 1) neither is needed
    if mask is not None:
        bias = torch.zeros(B, 1, T).masked_fill_(~mask[:, 0], torch.finfo(torch.float32).min)  # (B, 1, T)
        bias = bias.to(q.dtype).repeat_interleave(N, dim=0)  # (B N, 1, T): padded keys get no attention
        voters = mask[:, 0].float()  # (B, 1, T): padded queries do not vote
    total = torch.empty(B, T)
    for b in range(0, B, per):
        rows = slice(b * N, (b + per) * N)
        if bias is None:
            scores = torch.bmm(queries[rows], keys[rows]).mul_(scale)  # (B' N, T, T)
        else:
            scores = torch.baddbmm(bias[rows], queries[rows], keys[rows], alpha=scale)  # (B' N, T, T)
        probs = scores.float().softmax(-1).view(-1, N, T, T).sum(1)  # (B', T, T): summed over heads
        if voters is None:
            total[b:b + per] = probs.sum(1)
        else:
            total[b:b + per] = (voters[b:b + per] @ probs)[:, 0]  # (B', T)
    return total  # (B, T)


def take(x: Tensor, index: Tensor) -> Tensor:
    """Each example's rows at `index`: x (B, T, ...) and index (B, T') -> (B, T', ...).

    One index_select over the flattened rows (a row copy each), several times faster on CPU than `gather` with
    an index expanded over the feature dimension; dims 0 and 1 of x need not be contiguous, only mergeable.
    """
    B, T = x.shape[:2]
    return x.flatten(0, 1).index_select(0, flat_rows(index, T)).view(B, index.size(1), *x.shape[2:])


def flat_rows(index: Tensor, T: int) -> Tensor:
    """Per-example row indices (B, T') into rows of T -> indices (B T') into the B x T flattened rows."""
    if index.size(0) == 1:
        return index.flatten()
    return (index + torch.arange(index.size(0))[:, None] * T).flatten()


def top_tokens(sig: Tensor, mask: Tensor | None, keep: Tensor | int) -> tuple[Tensor, Tensor | None]:
    """The `keep[b]` most significant real tokens of each example, [CLS] first and in their original order.

    sig: (B, T) significance (attention received), overwritten (padding and [CLS] are marked in it); keep (B,),
    or one number for every example. Returns (index (B, T') into the current tokens, valid (B, T') bool) with
    T' = max(keep); the slots after an example's own count are padding (valid False; their index is any token's,
    to be masked out). valid is None when every example keeps T' tokens (nothing to pad).
    """
    if mask is not None:
        sig = sig.masked_fill_(~mask[:, 0, 0, :], -torch.inf)  # padding is never selected
    sig[:, 0] = torch.inf  # [CLS] is always kept
    T, kept = sig.size(1), keep if isinstance(keep, int) else int(keep.max())
    ranked = sig.topk(kept, dim=1).indices  # (B, T'), most significant first
    if isinstance(keep, int) or bool((keep == kept).all()):
        return ranked.sort(dim=1).values, None
    valid = torch.arange(kept)[None] < keep[:, None]  # (B, T')
    order = torch.where(valid, ranked, ranked + T).sort(dim=1).values  # kept tokens first, by position
    return order % T, valid


class TokenDrop:
    """One forward pass's token dropping: the per-example lengths, the current mask and the restore buffer.

    The encoder skips the layers in `skipped` (LayerDrop sub-networks); for the others it asks `selector(i, x)`
    before layer i (None when the layer keeps every token), passes the returned function to the layer (which
    calls it with the (B, T) attention each token received and keeps the tokens at the indices it returns),
    reads the new `mask` after it, and calls `restore` at the end.
    """

    def __init__(self, x: Tensor, mask: Tensor | None, config: LengthConfig) -> None:
        self.skipped = frozenset(config.skip)  # layers not run at all
        self.mask = mask  # (B, 1, 1, T) or None: the current tokens' attention mask
        self.buffer: Tensor | None = None  # (B, T0 + 1, H) once anything is dropped; slot T0 takes padding writes
        self.positions: Tensor | None = None  # (B, T) once anything is dropped: original position of each token
        if config.keeps_all_tokens():  # LayerDrop alone: no lengths to work out (a cost that shows at batch 1)
            self.drops = [False] * config.layers
            return
        self.lengths: Tensor | list[int]  # (B, L + 1) tokens per example after each layer, or one row for all
        if mask is None:  # every example has all T tokens (always at batch 1): plain numbers, no small tensor ops
            self.lengths = config.lengths_for(x.size(1))
            self.drops = [b < a for a, b in zip(self.lengths, self.lengths[1:], strict=False)]
            return
        self.lengths = config.token_lengths(mask[:, 0, 0, :].sum(-1))  # (B, L + 1)
        self.drops = (self.lengths[:, 1:] < self.lengths[:, :-1]).any(0).tolist()  # (L,) whether layer i drops

    def selector(self, layer: int, x: Tensor) -> Callable[[Tensor], Tensor] | None:
        """The selection for layer `layer` given its input x (B, T, H), or None when it keeps every token."""
        if not self.drops[layer]:
            return None
        if self.buffer is None:  # nothing dropped yet: x itself, plus a spare slot T0 for padding positions
            B, T, _ = x.shape
            self.buffer = torch.cat([x, x[:, :1]], dim=1)  # (B, T0 + 1, H)
            self.positions = torch.arange(T).expand(B, T)  # (B, T0)
        else:
            self._write(x)  # tokens dropped in this layer keep the state they entered it with
        return partial(self._select, layer)

    def _select(self, layer: int, sig: Tensor) -> Tensor:
        """Layer `layer`'s kept tokens, from the (B, T) attention they received: index (B, T') into the current
        tokens (positions and mask now describe the kept ones)."""
        keep = self.lengths[layer + 1] if isinstance(self.lengths, list) else self.lengths[:, layer + 1]
        index, valid = top_tokens(sig, self.mask, keep)  # (B, T') each
        self.positions = self.positions.gather(1, index)  # (B, T')
        if valid is None:  # every example keeps T' real tokens
            self.mask = None
        else:
            self.positions = self.positions.masked_fill_(~valid, self.buffer.size(1) - 1)  # padding -> spare
            self.mask = valid[:, None, None, :]
        return index

    def _write(self, x: Tensor) -> None:
        """Write x (B, T, H) into the buffer at the current tokens' original positions (in place)."""
        B, slots, H = self.buffer.shape
        self.buffer.view(B * slots, H).index_copy_(0, flat_rows(self.positions, slots), x.reshape(-1, H))

    def restore(self, x: Tensor) -> Tensor:
        """The last layer's output at every original position: (B, T', H) -> (B, T0, H)."""
        if self.buffer is None:
            return x
        self._write(x)
        return self.buffer[:, :-1]


def token_drop(model: nn.Module, x: Tensor, mask: Tensor | None, config: LengthConfig | None) -> TokenDrop | None:
    """The TokenDrop of one forward pass of a BertModel, or None for the full model (no configuration, or one
    that keeps every token and runs every layer). x: (B, T, H) embeddings; mask: (B, 1, 1, T) bool or None."""
    if config is None or config.is_full():
        return None
    if model.config.model_type != "bert":
        raise ConfigError(f"dynamic sequence length is implemented for BERT encoders, not {model.config.model_type}")
    layers = len(model.encoder.layer)
    if config.layers != layers:
        raise ConfigError(f"the length configuration has {config.layers} keep fractions for {layers} layers")
    return TokenDrop(x, mask, config)
