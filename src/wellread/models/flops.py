"""Model FLOPs from the config, counting real (non-pad) tokens: the numerator of model-FLOPs utilisation (MFU).

A FLOP is one multiply or one add, so a multiply-add is 2. Per sequence of s real tokens, per layer (H hidden,
F FFN size; SqueezeBERT divides each position-wise layer by its groups):

    matmuls   2 x (4 H^2 + 2 H F) x s        q, k, v, the attention output projection, the FFN's two layers
    attention 4 x H x s x s                  scores (Q K^T) and context (softmax x V): 2 H s^2 each

so a forward pass costs L x (2 P s + 4 H s^2) with P = 4 H^2 + 2 H F the layer's matmul parameters, plus the
masked-LM head where it runs: 2 x (H^2 + H V) per masked token (its transform and the vocabulary projection).
Training counts 3 x forward (the backward pass computes two products per forward one). Not counted: embedding
look-ups, normalisation, softmax, GELU and the other elementwise work (not matrix products), and per-sequence
heads (pooler and classifier: under 0.1% of a sequence's FLOPs). docs/benchmarks.md, "MFU", states the same.

Shapes: N inputs; n_in / n_out tokens entering / leaving a layer (LengthDrop keeps fewer).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from wellread.config import BertConfig
from wellread.models.length import LengthConfig


def layer_params(config: BertConfig) -> tuple[float, float, float]:
    """Matmul parameters of one layer: (q + k + v, attention output projection, FFN), biases left out."""
    H, F = config.hidden_size, config.intermediate_size
    groups = [getattr(config, name, 1) for name in ("q_groups", "k_groups", "v_groups", "post_attention_groups",
                                                      "intermediate_groups", "output_groups")]
    qkv = sum(H * H / g for g in groups[:3])
    return qkv, H * H / groups[3], H * F / groups[4] + F * H / groups[5]


def layer_flops(config: BertConfig, n_in: Tensor, n_out: Tensor) -> Tensor:
    """FLOPs of one layer attending over n_in tokens and keeping n_out of them (N,) -> (N,).

    q/k/v and the attention scores see all n_in tokens (ranking needs every query's attention); the kept
    queries' context, the attention output projection and the FFN only the n_out kept.
    """
    qkv, out, ffn = layer_params(config)
    H = config.hidden_size
    n_in, n_out = n_in.double(), n_out.double()
    return 2 * (qkv * n_in + H * n_in * n_in + H * n_out * n_in + out * n_out + ffn * n_out)


def encoder_flops(model_config: BertConfig, config: LengthConfig, lengths: Sequence[int]) -> float:
    """Mean encoder FLOPs per input over inputs of `lengths` real tokens (padding not counted; skipped layers
    cost nothing)."""
    n = torch.as_tensor(np.asarray(lengths, dtype=np.int64))
    kept = config.token_lengths(n)  # (N, L + 1)
    total = sum(layer_flops(model_config, kept[:, i], kept[:, i + 1])
                for i in range(config.layers) if i not in config.skip)
    return float(total.mean())


def mlm_head_flops(config: BertConfig) -> float:
    """FLOPs of the masked-LM head at one position: its H x H transform and the H x V vocabulary projection."""
    return 2.0 * (config.hidden_size * config.hidden_size + config.hidden_size * config.vocab_size)


def forward_flops(config: BertConfig, lengths: Sequence[int] | Tensor, masked_tokens: int = 0) -> float:
    """Forward FLOPs of a batch at full length: the encoder over each input's `lengths` real tokens, plus the
    masked-LM head at `masked_tokens` positions."""
    n = torch.as_tensor(lengths).double()  # (N,)
    encoder = config.num_hidden_layers * float(layer_flops(config, n, n).sum()) if n.numel() else 0.0
    return encoder + masked_tokens * mlm_head_flops(config)


def training_flops(config: BertConfig, lengths: Sequence[int] | Tensor, masked_tokens: int = 0) -> float:
    """FLOPs of one training step on a batch: forward and backward, 3 x `forward_flops`."""
    return 3.0 * forward_flops(config, lengths, masked_tokens)


def batch_flops(config: BertConfig, batch: dict[str, Tensor], training: bool = True) -> float:
    """`training_flops` (or `forward_flops`) of a model batch: real tokens from its attention_mask (B, T), masked
    positions from its masked_positions (B, T) when it has them (the MLM head runs only there)."""
    lengths = batch["attention_mask"].sum(-1)  # (B,)
    masked = int(batch["masked_positions"].sum()) if "masked_positions" in batch else 0
    return (training_flops if training else forward_flops)(config, lengths, masked)
