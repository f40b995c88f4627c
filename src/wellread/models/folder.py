"""A model folder, read once: where it is, its config, the head and labels it was saved with, its length
configuration and its sentence pooling (`wellread.models.sentence`: the sentence-transformers modules).

`read_model_folder` resolves a local folder or a hub id and reads config.json and length_config.json (modules.json
when `sentence` is first asked for); commands pass the `ModelFolder` on (to `load_model`, `load_for_task`,
`load_pipeline`) instead of reading them again. The weights are read by `load_model`, the tokenizer by
`ModelFolder.load_tokenizer`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from wellread.config import BertConfig, load_config
from wellread.errors import CheckpointError, ConfigError
from wellread.models import head_of_architecture
from wellread.models.fingerprint import check_length_config
from wellread.models.length import LengthConfig, read_length_config
from wellread.models.sentence import MODULES, SentenceConfig, read_sentence_config
from wellread.tokenizer import Tokenizer

HUB_FILES = ["config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
             "pytorch_model.bin.index.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
             "special_tokens_map.json", MODULES, "1_Pooling/config.json", "sentence_bert_config.json"]
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
UNNAMED_LABEL = re.compile(r"^LABEL_\d+$")


def resolve_model_dir(name_or_path: str | Path, revision: str | None = None) -> Path:
    """A local model folder, or a hub id (`google/bert_uncased_L-2_H-128_A-2`) downloaded to the HF cache.

    A name shaped like a hub id that is no local folder is tried on the hub; if that fails, the error names both
    the local folder looked for and the hub's answer (its first line)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; give the model folder that holds config.json")
    if not HUB_ID.match(str(name_or_path)):
        raise CheckpointError(f"no model folder at {path}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(name_or_path), revision=revision, allow_patterns=HUB_FILES))
    except Exception as err:  # the hub client raises many types: offline, 404, gated, bad revision
        first = (str(err).splitlines() or [""])[0]
        raise CheckpointError(
            f"{name_or_path}: no local folder {path.absolute()}, and the Hugging Face hub could not provide it as a "
            f"model id ({type(err).__name__}: {first}). A typo in the path? Offline? Download it elsewhere and "
            "pass the folder."
        ) from None


@dataclass(frozen=True)
class ModelFolder:
    """What a Hugging Face model folder holds besides its weights and tokenizer."""

    path: Path
    config: BertConfig
    head: str | None
    """The head of config.json's `architectures` ("base" when it names none); None for an architecture wellread
    does not implement (its encoder still loads under any head)."""
    labels: tuple[str, ...] | None
    """The head's label names in class order (config.json's id2label); None when it has none."""
    problem_type: str | None
    length_config: LengthConfig | None
    """length_config.json (a searched length configuration); None: full length."""

    @property
    def regression(self) -> bool:
        """Whether the head is a regression head (one output)."""
        return self.problem_type == "regression"

    @property
    def head_name(self) -> str:
        """The head for messages: wellread's name for it, else the architecture config.json names."""
        return self.head or self.config.architectures[0]

    def own_head(self) -> str:
        """`head`; ConfigError when config.json names an architecture wellread does not implement."""
        if self.head is None:
            raise ConfigError(f"{self.path}: architecture {self.head_name!r} is not one wellread implements")
        return self.head

    def named_labels(self, head: str) -> list[str] | None:
        """The labels of the folder's own head when it is `head` and they are named (None for another head, no
        labels, or only HF's placeholders LABEL_0, LABEL_1, ...)."""
        if self.head != head or not self.labels or all(UNNAMED_LABEL.match(label) for label in self.labels):
            return None
        return list(self.labels)

    @cached_property
    def sentence(self) -> SentenceConfig:
        """How the embed pipeline pools and normalises (modules.json; default mean, normalised): read when first
        asked for, so a sentence-transformers folder with modules wellread does not embed with (a Dense layer)
        still fine-tunes and classifies."""
        return read_sentence_config(self.path)

    def load_tokenizer(self) -> Tokenizer:
        """The folder's tokenizer."""
        return Tokenizer.load(self.path)


def read_model_folder(name_or_path: str | Path, revision: str | None = None) -> ModelFolder:
    """Resolve a local folder or hub id and read its config.json, length_config.json and modules.json."""
    path = resolve_model_dir(name_or_path, revision)
    config = load_config(path)
    head: str | None = "base"
    if config.architectures:
        try:
            head = head_of_architecture(config.architectures[0])
        except ConfigError:
            head = None
    labels = tuple(config.id2label[i] for i in sorted(config.id2label)) if config.id2label else None
    check_length_config(path)  # a searched configuration fits the weights it was searched on only
    return ModelFolder(path, config, head, labels, config.problem_type,
                       read_length_config(path, config.num_hidden_layers))
