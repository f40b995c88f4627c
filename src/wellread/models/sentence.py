"""How a model folder turns token states into one sentence embedding: pooling and normalisation, stored in the
layout sentence-transformers reads, so `SentenceTransformer(folder)` loads the same model wellread embeds with.

    modules.json               [Transformer at "", Pooling at "1_Pooling", Normalize at "2_Normalize" (if any)]
    1_Pooling/config.json      {"word_embedding_dimension": H, "pooling_mode_mean_tokens": true, ...}
    2_Normalize/               (an empty folder: L2 normalisation has no parameters)
    sentence_bert_config.json  {"max_seq_length": 256, "do_lower_case": false}  (optional: the default max length)

all-MiniLM-L6-v2's own folder has exactly these. A folder without modules.json gets `SentenceConfig()`: mean
pooling, normalised (`stored` False). wellread pools by mean over the real tokens ([CLS] and [SEP] included, as
sentence-transformers does) or by the [CLS] state; another pooling mode (max, mean-sqrt-len, weighted, ...) or
another module (Dense, ...) in modules.json is refused, naming the file: it would give other vectors than
sentence-transformers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wellread.errors import ConfigError
from wellread.textio import write_text_atomic

POOLINGS = ("mean", "cls")
MODULES = "modules.json"
POOLING_DIR, NORMALIZE_DIR = "1_Pooling", "2_Normalize"
ST_CONFIG = "sentence_bert_config.json"
ST = "sentence_transformers.models."
MODES = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token"}
OTHER_MODES = ("pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
               "pooling_mode_lasttoken")


@dataclass(frozen=True)
class SentenceConfig:
    """A folder's sentence pooling ("mean" or "cls"), whether the vector is L2-normalised, its default max length
    (sentence_bert_config.json's max_seq_length; None: the pipeline's) and whether the folder stores them."""

    pooling: str = "mean"
    normalize: bool = True
    max_length: int | None = None
    stored: bool = False

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None


def read_sentence_config(folder: str | Path) -> SentenceConfig:
    """The folder's modules.json (and 1_Pooling/config.json, sentence_bert_config.json); `SentenceConfig()` when it
    has no modules.json. ConfigError naming the file for a layout wellread cannot reproduce."""
    folder = Path(folder)
    path = folder / MODULES
    if not path.is_file():
        return SentenceConfig()
    modules = _read_json(path)
    if not isinstance(modules, list) or not all(isinstance(m, dict) and isinstance(m.get("type"), str)
                                                for m in modules):
        raise ConfigError(f"{path}: expected a list of modules, each an object with a \"type\"")
    types = [m["type"].removeprefix(ST) for m in modules]
    if types not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ConfigError(f"{path}: modules {types}; wellread embeds with Transformer, Pooling and optionally "
                          "Normalize, in that order")
    pooling_path = folder / str(modules[1].get("path", POOLING_DIR)) / "config.json"
    pooling = _read_json(pooling_path)
    if not isinstance(pooling, dict):
        raise ConfigError(f"{pooling_path}: expected an object")
    chosen = [name for name, key in MODES.items() if pooling.get(key)]
    others = [key for key in OTHER_MODES if pooling.get(key)]
    if len(chosen) != 1 or others:
        raise ConfigError(f"{pooling_path}: wellread pools by exactly one of {', '.join(MODES.values())}; "
                          f"this file sets {[MODES[c] for c in chosen] + others}")
    max_length = None
    if (folder / ST_CONFIG).is_file():
        value = _read_json(folder / ST_CONFIG)
        max_length = value.get("max_seq_length") if isinstance(value, dict) else None
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise ConfigError(f"{folder / ST_CONFIG}: max_seq_length must be a positive integer, got {max_length!r}")
    return SentenceConfig(chosen[0], len(types) == 3, max_length, stored=True)


def save_sentence_config(folder: str | Path, config: SentenceConfig, hidden_size: int) -> Path:
    """Write `config` into a model folder in the sentence-transformers layout (module docstring); returns
    modules.json's path. A normalisation folder is written only when `config.normalize`."""
    folder = Path(folder)
    modules = [{"idx": 0, "name": "0", "path": "", "type": ST + "Transformer"},
               {"idx": 1, "name": "1", "path": POOLING_DIR, "type": ST + "Pooling"}]
    if config.normalize:
        modules.append({"idx": 2, "name": "2", "path": NORMALIZE_DIR, "type": ST + "Normalize"})
        (folder / NORMALIZE_DIR).mkdir(parents=True, exist_ok=True)
    pooling = {"word_embedding_dimension": hidden_size, **{key: name == config.pooling for name, key in MODES.items()},
               **dict.fromkeys(OTHER_MODES[:2], False)}
    (folder / POOLING_DIR).mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / POOLING_DIR / "config.json", json.dumps(pooling, indent=2) + "\n")
    if config.max_length is not None:
        write_text_atomic(folder / ST_CONFIG, json.dumps({"max_seq_length": config.max_length,
                                                          "do_lower_case": False}, indent=2) + "\n")
    write_text_atomic(folder / MODULES, json.dumps(modules, indent=2) + "\n")
    return folder / MODULES
