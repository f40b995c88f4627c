"""SqueezeBERT (Iandola et al. 2020): BERT whose position-wise layers are kernel-1 grouped Conv1d.

Reuses BERT's embeddings, pooler and attention kernel; only the layer differs. Activations stay
channels-first, (B, H, T), inside the encoder, as in `transformers`' SqueezeBertModel, whose module and
parameter names are kept.
"""

from __future__ import annotations

from torch import Tensor, nn

from wellread.config import SqueezeBertConfig
from wellread.models.bert import ACT_FNS, BertModel, EncoderOutput, attend


class ChannelsFirstLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel dimension of (B, H, T) input (HF's SqueezeBertLayerNorm, eps 1e-12)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ConvDropoutLayerNorm(nn.Module):
    """Grouped kernel-1 conv, dropout, residual, LayerNorm: (B, Cin, T) -> (B, Cout, T)."""

    def __init__(self, cin: int, cout: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(cin, cout, kernel_size=1, groups=groups)
        self.layernorm = ChannelsFirstLayerNorm(cout, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.layernorm(self.dropout(self.conv1d(x)) + residual)


class ConvActivation(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int, act: str) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(cin, cout, kernel_size=1, groups=groups)
        self.act = ACT_FNS[act]

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv1d(x))


class SqueezeBertSelfAttention(nn.Module):
    def __init__(self, config: SqueezeBertConfig) -> None:
        super().__init__()
        H = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.query = nn.Conv1d(H, H, kernel_size=1, groups=config.q_groups)
        self.key = nn.Conv1d(H, H, kernel_size=1, groups=config.k_groups)
        self.value = nn.Conv1d(H, H, kernel_size=1, groups=config.v_groups)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, x: Tensor, mask: Tensor | None, return_scores: bool) -> tuple[Tensor, Tensor | None]:
        B, H, T = x.shape
        q, k, v = (conv(x).view(B, self.num_heads, -1, T).transpose(2, 3)  # (B, N, T, D)
                   for conv in (self.query, self.key, self.value))
        out, scores, _ = attend(q, k, v, mask, self.dropout_p if self.training else 0.0, return_scores)
        return out.transpose(2, 3).reshape(B, H, T), scores  # (B, H, T)


class SqueezeBertModule(nn.Module):
    """One SqueezeBERT layer on (B, H, T) activations."""

    def __init__(self, config: SqueezeBertConfig) -> None:
        super().__init__()
        H, F_ = config.hidden_size, config.intermediate_size
        p = config.hidden_dropout_prob
        self.attention = SqueezeBertSelfAttention(config)
        self.post_attention = ConvDropoutLayerNorm(H, H, config.post_attention_groups, p)
        self.intermediate = ConvActivation(H, F_, config.intermediate_groups, config.hidden_act)
        self.output = ConvDropoutLayerNorm(F_, H, config.output_groups, p)

    def forward(self, x: Tensor, mask: Tensor | None, return_scores: bool = False) -> tuple[Tensor, Tensor | None]:
        context, scores = self.attention(x, mask, return_scores)
        x = self.post_attention(context, x)
        return self.output(self.intermediate(x), x), scores  # (B, H, T)


class SqueezeBertEncoder(nn.Module):
    def __init__(self, config: SqueezeBertConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(SqueezeBertModule(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: Tensor, mask: Tensor | None, output_hidden_states: bool = False,
                output_attention_scores: bool = False) -> EncoderOutput:
        """x: (B, T, H) embeddings; hidden states are returned channels-last, like BERT's."""
        hidden = [x] if output_hidden_states else None
        all_scores = [] if output_attention_scores else None
        x = x.transpose(1, 2)  # (B, H, T)
        for layer in self.layers:
            x, scores = layer(x, mask, output_attention_scores)
            if hidden is not None:
                hidden.append(x.transpose(1, 2))
            if all_scores is not None:
                all_scores.append(scores)
        return EncoderOutput(x.transpose(1, 2), None, hidden, all_scores)


class SqueezeBertModel(BertModel):
    """HF's `SqueezeBertModel`: BERT's embeddings and pooler around the convolutional encoder."""

    encoder_class = SqueezeBertEncoder
