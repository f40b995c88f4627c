"""The tokenizer files `transformers` reads and writes: vocab.txt, tokenizer.json, tokenizer_config.json and
special_tokens_map.json, read into `Tokenizer` arguments and written from a `Tokenizer`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenizers import AddedToken

from wellread.errors import TokenizerError
from wellread.tokenizer.pipeline import CONTINUING_PREFIX, DEFAULT_SPECIAL_TOKENS, SPECIAL_TOKEN_ROLES

if TYPE_CHECKING:
    from wellread.tokenizer.wordpiece import Tokenizer

VOCAB_FILE = "vocab.txt"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"


def read_tokenizer_files(path: Path) -> tuple[list[str] | dict[str, int], dict[str, Any]]:
    """(vocabulary, the other `Tokenizer` arguments) from a folder (tokenizer.json, else vocab.txt), a vocab.txt
    file or a tokenizer.json file, with the settings of the tokenizer_config.json beside it (see `Tokenizer.load`).
    """
    if not path.exists():
        raise TokenizerError(f"no tokenizer at {path}: the path does not exist")
    folder = path if path.is_dir() else path.parent
    settings = _read_settings(folder)
    if path.is_dir():
        if (path / TOKENIZER_FILE).is_file():
            path = path / TOKENIZER_FILE
        elif (path / VOCAB_FILE).is_file():
            path = path / VOCAB_FILE
        else:
            raise TokenizerError(f"{path} holds neither {TOKENIZER_FILE} nor {VOCAB_FILE}")
    if path.suffix == ".json":
        return _read_json_file(path, settings)
    return _read_vocab_file(path, settings)


def write_tokenizer_files(tokenizer: Tokenizer, folder: Path) -> None:
    """Write vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / VOCAB_FILE).write_text("".join(t + "\n" for t in tokenizer.tokens_in_id_order()), encoding="utf-8")
    tokenizer.backend.save(str(folder / TOKENIZER_FILE))
    special_map: dict[str, Any] = dict(tokenizer.special_tokens)
    if tokenizer.additional_special_tokens:
        special_map["additional_special_tokens"] = list(tokenizer.additional_special_tokens)
    config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": tokenizer.lowercase,
        "strip_accents": tokenizer.strip_accents,
        "tokenize_chinese_chars": tokenizer.tokenize_chinese_chars,
        "do_basic_tokenize": True,
        "never_split": None,
        "model_max_length": tokenizer.model_max_length,
        "clean_up_tokenization_spaces": True,
        **special_map,
    }
    _write_json(folder / CONFIG_FILE, config)
    _write_json(folder / SPECIAL_TOKENS_MAP_FILE, special_map)


def _read_vocab_file(path: Path, settings: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise TokenizerError(f"{path} is not UTF-8 text: {err}") from None
    except OSError as err:
        raise TokenizerError(f"cannot read {path}: {err}") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise TokenizerError(f"{path} is empty: a vocabulary file holds one token per line")
    seen: dict[str, int] = {}
    tokens: list[str] = []
    for number, line in enumerate(lines, start=1):
        token = line.rstrip()  # as tokenizers' WordPiece.read_file does (also drops a \r)
        if not token:
            raise TokenizerError(f"{path}:{number}: blank line (a vocabulary holds one token per line)")
        if token in seen:
            raise TokenizerError(f"{path}:{number}: duplicate token {token!r} (first on line {seen[token]})")
        seen[token] = number
        tokens.append(token)
    return tokens, {"source": str(path), **settings}


def _read_json_file(path: Path, settings: dict[str, Any]) -> tuple[dict[str, int], dict[str, Any]]:
    data = _read_json(path)
    model = data.get("model")
    if not isinstance(model, dict) or model.get("type") != "WordPiece":
        kind = model.get("type") if isinstance(model, dict) else None
        raise TokenizerError(f"{path}: the model is {kind!r}, not a WordPiece (BERT) tokenizer")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        raise TokenizerError(f"{path}: model.vocab is missing or empty")
    if model.get("continuing_subword_prefix", CONTINUING_PREFIX) != CONTINUING_PREFIX:
        raise TokenizerError(f"{path}: continuing_subword_prefix must be {CONTINUING_PREFIX!r}")
    for part, expected in (("normalizer", "BertNormalizer"), ("pre_tokenizer", "BertPreTokenizer")):
        kind = data.get(part, {}).get("type") if isinstance(data.get(part), dict) else data.get(part)
        if kind is not None and kind != expected:
            raise TokenizerError(f"{path}: the {part} is {kind!r}, not BERT's {expected}")
    from_json: dict[str, Any] = {}
    norm = data.get("normalizer")
    if isinstance(norm, dict):
        from_json = {"lowercase": norm.get("lowercase", True), "strip_accents": norm.get("strip_accents"),
                     "tokenize_chinese_chars": norm.get("handle_chinese_chars", True)}
    unk = model.get("unk_token")
    if unk and "unk_token" not in settings.get("special_tokens", {}):
        settings.setdefault("special_tokens", {})["unk_token"] = unk
    items = data.get("added_tokens") or []
    if not isinstance(items, list) or not all(isinstance(t, dict) and isinstance(t.get("content"), str)
                                              for t in items):
        raise TokenizerError(f"{path}: added_tokens must be a list of objects with a 'content' string")
    added = []
    for item in sorted(items, key=lambda t: t.get("id", 0)):
        if item["content"] in vocab or item.get("special"):
            continue
        added.append(AddedToken(item["content"], single_word=item.get("single_word", False),
                                lstrip=item.get("lstrip", False), rstrip=item.get("rstrip", False),
                                normalized=item.get("normalized", True), special=False))
    extra_specials = [item["content"] for item in items if item.get("special") and item["content"] in vocab]
    known = set(settings.get("special_tokens", {}).values()) | set(DEFAULT_SPECIAL_TOKENS.values())
    settings.setdefault("additional_special_tokens", [t for t in extra_specials if t not in known])
    return vocab, {"added_tokens": added, "source": str(path), **from_json, **settings}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TokenizerError(f"{path} is not valid JSON: {err}") from None
    except OSError as err:
        raise TokenizerError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict):
        raise TokenizerError(f"{path} must hold a JSON object")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _token_text(value: Any) -> str | None:
    """A special token from tokenizer_config.json: a string or a serialised AddedToken."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _read_settings(folder: Path) -> dict[str, Any]:
    """Tokenizer constructor arguments from a folder's special_tokens_map.json and tokenizer_config.json."""
    data: dict[str, Any] = {}
    for name in (SPECIAL_TOKENS_MAP_FILE, CONFIG_FILE):
        if (folder / name).is_file():
            data.update(_read_json(folder / name))
    settings: dict[str, Any] = {}
    if "do_lower_case" in data:
        settings["lowercase"] = bool(data["do_lower_case"])
    if "strip_accents" in data:
        settings["strip_accents"] = data["strip_accents"]
    if "tokenize_chinese_chars" in data:
        settings["tokenize_chinese_chars"] = bool(data["tokenize_chinese_chars"])
    max_length = data.get("model_max_length")
    if isinstance(max_length, int) and 0 < max_length < 10**8:  # HF writes a huge sentinel for "no limit"
        settings["model_max_length"] = max_length
    specials = {role: _token_text(data[role]) for role in SPECIAL_TOKEN_ROLES if _token_text(data.get(role))}
    if specials:
        settings["special_tokens"] = specials
    extra = data.get("additional_special_tokens") or data.get("extra_special_tokens")
    if isinstance(extra, list):
        settings["additional_special_tokens"] = [t for t in map(_token_text, extra) if t]
    return settings
