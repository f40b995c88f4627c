"""The BERT encoder. Module and parameter names follow `transformers`' BertModel exactly, so its state
dicts load with `strict=True`.

With a length configuration (`wellread.models.length`), layers keep only their most attended tokens; without one
the forward is the ordinary one.

Shapes: B batch, T tokens, H hidden size, N heads, D head size (H = N * D), F FFN size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wellread.config import BertConfig
from wellread.models.drop import TokenDrop, received_attention, significance, take, token_drop
from wellread.models.kernels import FusedLinear, Linear
from wellread.models.length import LengthConfig

ACT_FNS = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "tanh": torch.tanh,
}


@dataclass
class EncoderOutput:
    """What an encoder returns. `hidden_states[0]` is the embedding output, `hidden_states[i]` layer i's."""

    last_hidden_state: Tensor  # (B, T, H)
    pooler_output: Tensor | None = None  # (B, H)
    hidden_states: list[Tensor] | None = None  # L+1 x (B, T, H)
    attention_scores: list[Tensor | None] | None = None  # L x (B, N, T, T), pre-softmax, before masking


def key_padding_mask(attention_mask: Tensor | None) -> Tensor | None:
    """(B, T) 1/0 mask -> (B, 1, 1, T) bool mask (True = attend), or None when nothing is padded."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return attention_mask.bool()[:, None, None, :]


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float, return_scores: bool,
           select: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Scaled dot-product attention over (B, N, T, D) tensors -> (context, scores or None, index or None).

    return_scores: also the pre-softmax (B, N, T, T) scores (distillation), before the padding mask is applied.
    select: token dropping; `select(sig)` is given the (B, T) attention each token received (summed over heads
    and real queries) and returns the (B, T') indices of the tokens to keep; then only their context is
    computed, (B, N, T', D). Without scores to return the fused kernel runs (for the kept queries).
    """
    if not return_scores:
        index = None
        if select is not None:
            index = select(received_attention(q, k, mask))  # (B, T')
            q = take(q.transpose(1, 2), index).transpose(1, 2)  # (B, N, T', D)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p), None, index
    scores = (q @ k.transpose(-1, -2)).div_(math.sqrt(q.size(-1)))  # (B, N, T, T)
    fill = torch.finfo(scores.dtype).min
    probs = (scores if mask is None else scores.masked_fill(~mask, fill)).softmax(-1)  # (B, N, T, T)
    index = None
    if select is not None:
        index = select(significance(probs, mask))  # (B, T')
        rows = index[:, None, :, None].expand(-1, probs.size(1), -1, probs.size(-1))  # (B, N, T', T)
        probs = probs.gather(2, rows)  # the kept queries' rows: (B, N, T', T)
    context = (F.dropout(probs, dropout_p) if dropout_p > 0 else probs) @ v  # (B, N, T or T', D)
    return context, scores, index


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings)[None], persistent=False)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        T = input_ids.size(1)
        x = self.word_embeddings(input_ids) + self.position_embeddings(self.position_ids[:, :T])  # (B, T, H)
        if token_type_ids is None:
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.query = Linear(config.hidden_size, config.hidden_size)
        self.key = Linear(config.hidden_size, config.hidden_size)
        self.value = Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob
        self.fused = FusedLinear()  # q, k and v in one GEMM at inference

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v: (B, T, H) each. Without autograd, one GEMM on the concatenated weights (faster on CPU)."""
        if torch.is_grad_enabled():
            return self.query(x), self.key(x), self.value(x)
        qkv = self.fused(x, (self.query, self.key, self.value))  # (B, T, 3H)
        return qkv.chunk(3, dim=-1)  # 3 x (B, T, H)

    def forward(self, x: Tensor, mask: Tensor | None, return_scores: bool,
                select: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(B, T, H) -> (B, T, H), or (B, T', H) for the tokens `select` keeps (see `attend`); the (B, N, T, T)
        scores if asked for; the (B, T') kept indices or None."""
        B, T, H = x.shape
        q, k, v = (t.view(B, T, self.num_heads, -1).transpose(1, 2) for t in self.project(x))  # (B, N, T, D)
        out, scores, index = attend(q, k, v, mask, self.dropout_p if self.training else 0.0, return_scores, select)
        return out.transpose(1, 2).reshape(B, -1, H), scores, index  # (B, T or T', H)


class BertSelfOutput(nn.Module):
    """Projection, dropout, residual and LayerNorm (after attention: H -> H; after the FFN: F -> H)."""

    def __init__(self, config: BertConfig, in_features: int) -> None:
        super().__init__()
        self.dense = Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config, config.hidden_size)

    def forward(self, x: Tensor, mask: Tensor | None, return_scores: bool,
                select: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor | None]:
        """(B, T, H) -> (B, T, H), or (B, T', H) for the tokens `select` keeps; and the scores if asked for.
        Dropped tokens never reach the output projection (their attention output would be discarded)."""
        context, scores, index = self.self(x, mask, return_scores, select)
        if index is not None:
            x = take(x, index)  # the kept tokens' residual: (B, T', H)
        return self.output(context, x), scores


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT_FNS[config.hidden_act]

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.dense(x))  # (B, T, F)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config, config.intermediate_size)

    def forward(self, x: Tensor, mask: Tensor | None, return_scores: bool = False,
                select: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor | None]:
        """`select(probs)` picks the tokens this layer keeps from its (B, N, T, T) attention probabilities
        (`wellread.models.drop`): the attention output and the FFN then run on (B, T', H) only."""
        x, scores = self.attention(x, mask, return_scores, select)
        return self.output(self.intermediate(x), x), scores  # (B, T, H) or (B, T', H)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: Tensor, mask: Tensor | None, output_hidden_states: bool = False,
                output_attention_scores: bool = False, drop: TokenDrop | None = None) -> EncoderOutput:
        """With `drop`, hidden states and scores have each layer's kept length, a skipped layer's hidden state is
        its input and its scores None; the output is restored to T."""
        hidden = [x] if output_hidden_states else None
        all_scores = [] if output_attention_scores else None
        for i, layer in enumerate(self.layer):
            if drop is not None and i in drop.skipped:
                if hidden is not None:
                    hidden.append(x)
                if all_scores is not None:
                    all_scores.append(None)
                continue
            select = None if drop is None else drop.selector(i, x)
            x, scores = layer(x, mask, output_attention_scores, select)
            if select is not None:
                mask = drop.mask  # (B, 1, 1, T') or None
            if hidden is not None:
                hidden.append(x)
            if all_scores is not None:
                all_scores.append(scores)
        if drop is not None:
            x = drop.restore(x)  # (B, T, H)
        return EncoderOutput(x, None, hidden, all_scores)


class BertPooler(nn.Module):
    """tanh(dense(first token's state)) -> (B, H)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    """Embeddings, L transformer layers and (optionally) the pooler; HF's `BertModel`."""

    encoder_class: type[nn.Module] = BertEncoder
    length_config: LengthConfig | None = None
    """Used in eval mode when forward is given no `length_config` (`load_model` reads length_config.json)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = self.encoder_class(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, *, output_hidden_states: bool = False,
                output_attention_scores: bool = False, length_config: LengthConfig | None = None) -> EncoderOutput:
        """input_ids, attention_mask (1 = token, 0 = padding), token_type_ids: (B, T).

        length_config: the tokens each layer keeps (`wellread.models.length`); default: `self.length_config` in eval
        mode, none in training. A full configuration (every layer keeps all) runs the ordinary forward.
        """
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, H)
        mask = key_padding_mask(attention_mask)
        if length_config is None and not self.training:
            length_config = self.length_config
        drop = token_drop(self, x, mask, length_config)
        if drop is None:
            out = self.encoder(x, mask, output_hidden_states, output_attention_scores)
        else:
            out = self.encoder(x, mask, output_hidden_states, output_attention_scores, drop)
        if self.pooler is not None:
            out.pooler_output = self.pooler(out.last_hidden_state)
        return out
