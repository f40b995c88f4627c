"""Model configs as dataclasses whose fields are the Hugging Face `config.json` field names.

`load_config` reads any BERT or SqueezeBERT `config.json`; `BertConfig.to_dict` writes one back with the
same fields (fields wellread does not use are kept in `extra` and written back unchanged), so a config
round-trips between wellread and `transformers`.

Presets: the 24 BERT miniatures of Turc et al. (2019), their usual aliases, the two TinyBERT shapes and
SqueezeBERT. `preset(name)` returns a fresh config.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from wellread.errors import ConfigError

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "tanh")


@dataclass
class BertConfig:
    """A BERT encoder's shape and regularisation (defaults are those of `transformers.BertConfig`)."""

    model_type: ClassVar[str] = "bert"

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    architectures: list[str] | None = None
    id2label: dict[int, str] | None = None
    """Label names of a classification head, by class index (written as string keys, as HF does)."""
    problem_type: str | None = None
    """"regression", "single_label_classification" or "multi_label_classification" (HF's names)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields of the source config.json that wellread does not use, written back unchanged."""

    def __post_init__(self) -> None:
        self.validate()

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def num_labels(self) -> int:
        return len(self.id2label) if self.id2label else 2

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in (self.id2label or {}).items()}

    def validate(self) -> None:
        """Raise ConfigError when the fields cannot describe a working model."""
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) is not a multiple of "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"hidden_act {self.hidden_act!r} is not one of {', '.join(ACTIVATIONS)}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ConfigError(f"pad_token_id {self.pad_token_id} is outside the vocabulary (0..{self.vocab_size - 1})")
        position_type = self.extra.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ConfigError(f"position_embedding_type {position_type!r} is not supported (only 'absolute')")

    def replace(self, **changes: Any) -> BertConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def with_labels(self, labels: list[str], problem_type: str | None = None) -> BertConfig:
        """A copy whose classification head predicts `labels` (one output for regression)."""
        return self.replace(id2label=dict(enumerate(labels)), problem_type=problem_type or self.problem_type)

    def to_dict(self) -> dict[str, Any]:
        """The config.json content, with HF field names."""
        out: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name == "id2label":
                if value is None:
                    continue
                out["id2label"] = {str(i): name for i, name in value.items()}
                out["label2id"] = {name: i for i, name in value.items()}
                continue
            if value is None and f.name in ("architectures", "problem_type"):
                continue
            out[f.name] = value
        out["model_type"] = self.model_type
        return dict(sorted(out.items()))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> BertConfig:
        """Build a config from a config.json dict; unknown fields are kept in `extra`."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("model_type", "label2id"):
                continue
            (kwargs if key in names else extra)[key] = value
        if kwargs.get("id2label") is not None:
            try:
                kwargs["id2label"] = {int(i): str(name) for i, name in kwargs["id2label"].items()}
            except (AttributeError, ValueError) as err:
                raise ConfigError(f"{source}: id2label must map class indices to names ({err})") from err
        try:
            return cls(**kwargs, extra=extra)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None

    def save(self, path: str | Path) -> None:
        """Write config.json (path is the file or its folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


@dataclass
class SqueezeBertConfig(BertConfig):
    """SqueezeBERT: BERT with kernel-1 grouped Conv1d position-wise layers (Iandola et al. 2020)."""

    model_type: ClassVar[str] = "squeezebert"

    embedding_size: int = 768
    q_groups: int = 4
    k_groups: int = 4
    v_groups: int = 4
    post_attention_groups: int = 1
    intermediate_groups: int = 4
    output_groups: int = 4

    def validate(self) -> None:
        super().validate()
        if self.embedding_size != self.hidden_size:
            raise ConfigError(
                f"embedding_size ({self.embedding_size}) must equal hidden_size ({self.hidden_size}) for SqueezeBERT"
            )
        for name, channels in (("q_groups", self.hidden_size), ("k_groups", self.hidden_size),
                               ("v_groups", self.hidden_size), ("post_attention_groups", self.hidden_size),
                               ("intermediate_groups", self.intermediate_size),
                               ("output_groups", self.intermediate_size)):
            groups = getattr(self, name)
            if groups < 1 or self.hidden_size % groups or channels % groups:
                raise ConfigError(f"{name} ({groups}) must divide the channels ({self.hidden_size}, {channels})")


CONFIG_CLASSES: dict[str, type[BertConfig]] = {"bert": BertConfig, "squeezebert": SqueezeBertConfig}


def config_from_dict(data: dict[str, Any], source: str = "config") -> BertConfig:
    """Pick the config class from `model_type` (absent means bert) and build it."""
    model_type = data.get("model_type", "bert")
    if model_type not in CONFIG_CLASSES:
        raise ConfigError(
            f"{source}: model_type {model_type!r} is not supported; wellread supports "
            f"{', '.join(sorted(CONFIG_CLASSES))}"
        )
    return CONFIG_CLASSES[model_type].from_dict(data, source)


def load_config(path: str | Path) -> BertConfig:
    """Read a config.json (path is the file or its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise ConfigError(f"no config.json at {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return config_from_dict(data, str(path))


# --- presets ---------------------------------------------------------------------------------------

MINIATURE_LAYERS = (2, 4, 6, 8, 10, 12)
MINIATURE_WIDTHS = (128, 256, 512, 768)
ALIASES = {"tiny": "bert-L2-H128", "mini": "bert-L4-H256", "small": "bert-L4-H512",
           "medium": "bert-L8-H512", "base": "bert-L12-H768"}


def miniature(layers: int, hidden: int) -> BertConfig:
    """One of the 24 BERT miniatures: heads = hidden/64, FFN = 4*hidden, the bert-base-uncased vocab."""
    return BertConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=hidden // 64,
                      intermediate_size=4 * hidden)


def _presets() -> dict[str, tuple[str, Any]]:
    table: dict[str, tuple[str, Any]] = {}
    for layers in MINIATURE_LAYERS:
        for hidden in MINIATURE_WIDTHS:
            table[f"bert-L{layers}-H{hidden}"] = (
                f"BERT miniature (google/bert_uncased_L-{layers}_H-{hidden}_A-{hidden // 64})",
                lambda layers=layers, hidden=hidden: miniature(layers, hidden),
            )
    table["tinybert-4l"] = ("TinyBERT 4 layers, 312 wide, FFN 1200, 12 heads",
                            lambda: BertConfig(hidden_size=312, num_hidden_layers=4, num_attention_heads=12,
                                               intermediate_size=1200))
    table["tinybert-6l"] = ("TinyBERT 6 layers, 768 wide, FFN 3072, 12 heads",
                            lambda: BertConfig(hidden_size=768, num_hidden_layers=6, num_attention_heads=12,
                                               intermediate_size=3072))
    table["squeezebert"] = ("SqueezeBERT 12 layers, 768 wide, grouped convolutions (4 groups)",
                            lambda: SqueezeBertConfig(vocab_size=30528))
    return table


PRESETS = _presets()


def preset_names() -> list[str]:
    """Every preset name, then the aliases."""
    return [*PRESETS, *ALIASES]


def preset(name: str) -> BertConfig:
    """A fresh config for a preset name or alias (also accepts google's `bert_uncased_L-2_H-128_A-2`)."""
    key = ALIASES.get(name, name)
    if key.startswith("bert_uncased_L-") or key.startswith("google/bert_uncased_L-"):
        parts = key.split("/")[-1].split("_")
        key = f"bert-L{parts[2][2:]}-H{parts[3][2:]}"
    if key not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; `wellread models` lists them: {', '.join(preset_names())}")
    return PRESETS[key][1]()


def describe_preset(name: str) -> str:
    return PRESETS[ALIASES.get(name, name)][0]
