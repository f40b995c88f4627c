"""Models: the BERT and SqueezeBERT encoders, their task heads, and building them from a config."""

from __future__ import annotations

from torch import nn

from wellread.config import BertConfig
from wellread.errors import ConfigError
from wellread.models.bert import BertModel, EncoderOutput
from wellread.models.heads import (
    FAMILIES,
    EncoderWithHead,
    ForMaskedLM,
    ForNextSentencePrediction,
    ForPreTraining,
    ForQuestionAnswering,
    ForSequenceClassification,
    ForTokenClassification,
    HeadOutput,
)
from wellread.models.squeezebert import SqueezeBertModel

HEADS: dict[str, type[EncoderWithHead]] = {
    cls.head: cls
    for cls in (ForMaskedLM, ForPreTraining, ForNextSentencePrediction, ForSequenceClassification,
                ForTokenClassification, ForQuestionAnswering)
}
"""Head name -> model class. "base" (no head) builds the bare encoder."""

HEAD_NAMES = ("base", *HEADS)


def head_of_architecture(architecture: str) -> str:
    """HF class name (`BertForMaskedLM`, `SqueezeBertModel`, ...) -> wellread head name."""
    for family in FAMILIES.values():
        if architecture == family.hf_name + "Model":
            return "base"
        for name, cls in HEADS.items():
            if architecture == family.hf_name + cls.__name__:
                return name
    raise ConfigError(f"architecture {architecture!r} is not one wellread implements")


def init_weights(module: nn.Module, std: float) -> None:
    """HF's initialisation: normal(0, std) weights, zero biases, unit LayerNorm, zero padding embedding."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=std)
            if m.padding_idx is not None:
                m.weight.data[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for name, param in module.named_parameters():
        if name.endswith("cls.predictions.bias"):
            nn.init.zeros_(param)


def build_model(config: BertConfig, head: str = "base") -> nn.Module:
    """A freshly initialised model: the bare encoder for head "base", else the head model."""
    if head == "base":
        model: nn.Module = FAMILIES[config.model_type].encoder(config)
    elif head in HEADS:
        model = HEADS[head](config)
    else:
        raise ConfigError(f"unknown head {head!r}; choose one of {', '.join(HEAD_NAMES)}")
    init_weights(model, config.initializer_range)
    return model


def architecture_name(model: nn.Module) -> str:
    """The HF class name written into config.json's `architectures`."""
    if isinstance(model, EncoderWithHead):
        return model.hf_architecture
    return FAMILIES[model.config.model_type].hf_name + "Model"


__all__ = [
    "HEADS", "HEAD_NAMES", "BertModel", "SqueezeBertModel", "EncoderOutput", "EncoderWithHead", "HeadOutput",
    "ForMaskedLM", "ForPreTraining", "ForNextSentencePrediction", "ForSequenceClassification",
    "ForTokenClassification", "ForQuestionAnswering", "build_model", "init_weights", "head_of_architecture",
    "architecture_name",
]
