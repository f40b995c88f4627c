"""Task heads on top of either encoder, named as `transformers` names them.

Each model keeps its encoder under the family's checkpoint prefix (`bert.` for BERT, `transformer.` for
SqueezeBERT) and its head under HF's name (`cls.predictions`, `cls.seq_relationship`, `classifier`,
`qa_outputs`), so `BertForMaskedLM`, `SqueezeBertForSequenceClassification`, ... state dicts load with
`strict=True`. Heads return logits; losses belong to the tasks that train them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from wellread.config import BertConfig
from wellread.models.bert import ACT_FNS, BertModel, EncoderOutput
from wellread.models.kernels import Linear
from wellread.models.length import LengthConfig
from wellread.models.squeezebert import SqueezeBertModel


@dataclass(frozen=True)
class Family:
    """How one architecture family lays out its checkpoints."""

    prefix: str  # attribute (and state-dict prefix) of the encoder inside a head model
    hf_name: str  # class-name prefix in `architectures`, e.g. "Bert" -> "BertForMaskedLM"
    encoder: type[BertModel]
    pooler_always: bool  # SqueezeBERT's head models keep the pooler even where BERT's drop it


FAMILIES = {
    "bert": Family("bert", "Bert", BertModel, pooler_always=False),
    "squeezebert": Family("transformer", "SqueezeBert", SqueezeBertModel, pooler_always=True),
}


@dataclass
class HeadOutput:
    """logits: (B, T, V) masked-LM, (B, C) sequence, (B, T, C) token, (B, T, 2) QA start/end."""

    logits: Tensor
    encoder: EncoderOutput
    sentence_logits: Tensor | None = None  # (B, 2): sentence-order / next-sentence, pretraining heads only


def classifier_dropout(config: BertConfig) -> nn.Dropout:
    """HF's `classifier_dropout` when the config sets it, else the hidden dropout."""
    p = config.extra.get("classifier_dropout")
    return nn.Dropout(config.hidden_dropout_prob if p is None else p)


class EncoderWithHead(nn.Module):
    """Base class: an encoder under the family prefix plus a head; subclasses set `head` and `uses_pooler`."""

    head: str = ""
    uses_pooler: bool = True

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.family = FAMILIES[config.model_type]
        pooler = self.uses_pooler or self.family.pooler_always
        self.add_module(self.family.prefix, self.family.encoder(config, add_pooling_layer=pooler))

    @property
    def base(self) -> BertModel:
        """The encoder (`self.bert` or `self.transformer`)."""
        return getattr(self, self.family.prefix)

    @property
    def length_config(self) -> LengthConfig | None:
        """The encoder's length configuration (`wellread.models.length`), used in eval mode; None: full length."""
        return self.base.length_config

    @length_config.setter
    def length_config(self, value: LengthConfig | None) -> None:
        self.base.length_config = value

    @property
    def hf_architecture(self) -> str:
        return self.family.hf_name + type(self).__name__

    def encode(self, input_ids: Tensor, attention_mask: Tensor | None = None,
               token_type_ids: Tensor | None = None, **kwargs: Any) -> EncoderOutput:
        """The encoder's output; kwargs: output_hidden_states, output_attention_scores, length_config."""
        return self.base(input_ids, attention_mask, token_type_ids, **kwargs)


class PredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.act = ACT_FNS[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.LayerNorm(self.act(self.dense(x)))


class LMPredictionHead(nn.Module):
    """Transform then project to the vocabulary; decoder weight tied to the word embeddings."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.transform = PredictionHeadTransform(config)
        self.decoder = Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.weight = word_embeddings.weight
        self.decoder.bias = self.bias

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.transform(x))  # (..., V)


class MLMHead(nn.Module):
    """`cls` of BertForMaskedLM; with `sentence_classes` also `cls.seq_relationship` (BertForPreTraining)."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding, sentence_head: bool) -> None:
        super().__init__()
        self.predictions = LMPredictionHead(config, word_embeddings)
        self.seq_relationship = Linear(config.hidden_size, 2) if sentence_head else None


class SentenceHead(nn.Module):
    """`cls` of BertForNextSentencePrediction: pooled output -> 2 logits."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.seq_relationship = Linear(config.hidden_size, 2)


def _gather(x: Tensor, positions: Tensor | None) -> Tensor:
    """(B, T, H) -> (M, H) rows at the True entries of a (B, T) bool mask (all rows when None)."""
    return x if positions is None else x[positions]


class ForMaskedLM(EncoderWithHead):
    """Masked-LM. With `masked_positions` ((B, T) bool), the vocabulary projection runs only there."""

    head = "masked-lm"
    uses_pooler = False

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.cls = MLMHead(config, self.base.embeddings.word_embeddings, sentence_head=False)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, masked_positions: Tensor | None = None,
                **kwargs: Any) -> HeadOutput:
        enc = self.encode(input_ids, attention_mask, token_type_ids, **kwargs)
        logits = self.cls.predictions(_gather(enc.last_hidden_state, masked_positions))  # (B, T, V) or (M, V)
        return HeadOutput(logits, enc)


class ForPreTraining(ForMaskedLM):
    """Masked-LM plus the sentence-pair head (next-sentence or sentence-order prediction)."""

    head = "pretraining"
    uses_pooler = True

    def __init__(self, config: BertConfig) -> None:
        EncoderWithHead.__init__(self, config)
        self.cls = MLMHead(config, self.base.embeddings.word_embeddings, sentence_head=True)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, masked_positions: Tensor | None = None,
                **kwargs: Any) -> HeadOutput:
        out = super().forward(input_ids, attention_mask, token_type_ids, masked_positions, **kwargs)
        out.sentence_logits = self.cls.seq_relationship(out.encoder.pooler_output)  # (B, 2)
        return out


class ForNextSentencePrediction(EncoderWithHead):
    """The sentence-pair head alone (`cls.seq_relationship`): logits (B, 2)."""

    head = "next-sentence"

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.cls = SentenceHead(config)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, **kwargs: Any) -> HeadOutput:
        enc = self.encode(input_ids, attention_mask, token_type_ids, **kwargs)
        return HeadOutput(self.cls.seq_relationship(enc.pooler_output), enc)


class ForSequenceClassification(EncoderWithHead):
    """Pooled [CLS] -> dropout -> classifier: (B, num_labels); one output for regression."""

    head = "sequence-classification"

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        outputs = 1 if config.problem_type == "regression" else config.num_labels
        self.dropout = classifier_dropout(config)
        self.classifier = Linear(config.hidden_size, outputs)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, **kwargs: Any) -> HeadOutput:
        enc = self.encode(input_ids, attention_mask, token_type_ids, **kwargs)
        return HeadOutput(self.classifier(self.dropout(enc.pooler_output)), enc)


class ForTokenClassification(EncoderWithHead):
    """Every token's state -> dropout -> classifier: (B, T, num_labels)."""

    head = "token-classification"
    uses_pooler = False

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.dropout = classifier_dropout(config)
        self.classifier = Linear(config.hidden_size, config.num_labels)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, **kwargs: Any) -> HeadOutput:
        enc = self.encode(input_ids, attention_mask, token_type_ids, **kwargs)
        return HeadOutput(self.classifier(self.dropout(enc.last_hidden_state)), enc)


class ForQuestionAnswering(EncoderWithHead):
    """Span extraction: logits (B, T, 2), [..., 0] start and [..., 1] end."""

    head = "question-answering"
    uses_pooler = False

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.qa_outputs = Linear(config.hidden_size, 2)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, **kwargs: Any) -> HeadOutput:
        enc = self.encode(input_ids, attention_mask, token_type_ids, **kwargs)
        return HeadOutput(self.qa_outputs(enc.last_hidden_state), enc)
