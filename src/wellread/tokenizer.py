"""BERT's WordPiece tokenizer on the `tokenizers` library, with the files `transformers` reads.

The pipeline is BERT's: BertNormalizer (clean text, split CJK characters, lowercase, strip accents) ->
BertPreTokenizer (whitespace and punctuation) -> WordPiece (`##` continuations, `[UNK]` for words longer than
100 characters or made of unknown pieces) -> `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]` -> WordPiece decoder.
Encoding, batching, truncation and windowing all run in the library, so ids, type ids and offsets are those of
`transformers.BertTokenizerFast` with the same vocabulary and options.

    tok = Tokenizer.load("path/to/model")              # tokenizer.json, else vocab.txt (+ tokenizer_config.json)
    enc = tok.encode("A question?", "Its context.", max_length=128, truncation="only_second")
    batch = tok.pad(tok.encode_batch(texts, max_length=128, truncation="longest_first"))
    tok = Tokenizer.train(["corpus.txt"], vocab_size=8000)
    tok.save("out/")                                    # vocab.txt, tokenizer.json, tokenizer_config.json, ...
"""

from __future__ import annotations

import bz2
import glob
import gzip
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import tokenizers
from tokenizers import AddedToken, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import WordPiece

from wellread.errors import DataError, TokenizerError

if TYPE_CHECKING:
    import torch

    from wellread.config import BertConfig

Truncation = Literal["longest_first", "only_first", "only_second"]
TRUNCATION_STRATEGIES: tuple[str, ...] = ("longest_first", "only_first", "only_second")

SPECIAL_TOKEN_ROLES: tuple[str, ...] = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
"""The special tokens every BERT vocabulary needs, by their `transformers` attribute names."""
DEFAULT_SPECIAL_TOKENS: dict[str, str] = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
                                          "sep_token": "[SEP]", "mask_token": "[MASK]"}
DEFAULT_TRAIN_SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

VOCAB_FILE = "vocab.txt"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"

CONTINUING_PREFIX = "##"
MAX_INPUT_CHARS_PER_WORD = 100


@dataclass
class Encoding:
    """One encoded text or text pair; every list has one entry per token.

    `offsets` are character offsets into the text each token came from ((0, 0) for special tokens);
    `word_ids` and `sequence_ids` are None for special tokens. `overflowing` holds the pieces cut off by
    truncation (each one a full Encoding, see `Tokenizer.encode_windows`).
    """

    ids: list[int]
    type_ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]
    attention_mask: list[int]
    special_tokens_mask: list[int]
    word_ids: list[int | None]
    sequence_ids: list[int | None]
    overflowing: list[Encoding] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_library(cls, enc: tokenizers.Encoding, with_overflowing: bool = True) -> Encoding:
        """Copy a `tokenizers.Encoding` (and, when asked, its overflowing pieces)."""
        return cls(
            ids=list(enc.ids),
            type_ids=list(enc.type_ids),
            tokens=list(enc.tokens),
            offsets=[tuple(o) for o in enc.offsets],
            attention_mask=list(enc.attention_mask),
            special_tokens_mask=list(enc.special_tokens_mask),
            word_ids=list(enc.word_ids),
            sequence_ids=list(enc.sequence_ids),
            overflowing=[cls.from_library(o, False) for o in enc.overflowing] if with_overflowing else [],
        )


class Tokenizer:
    """A BERT WordPiece tokenizer: a `tokenizers.Tokenizer` with BERT's pipeline and special tokens.

    Build one with `Tokenizer.load(path)`, `Tokenizer.train(files)` or `Tokenizer(vocab)`.
    """

    def __init__(
        self,
        vocab: Mapping[str, int] | Sequence[str],
        *,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        model_max_length: int = 512,
        special_tokens: Mapping[str, str] | None = None,
        additional_special_tokens: Sequence[str] = (),
        added_tokens: Sequence[AddedToken] = (),
        source: str = "vocabulary",
    ) -> None:
        """Build the pipeline around a vocabulary (tokens in id order, or token -> id with ids 0..n-1).

        `strip_accents=None` strips accents exactly when lowercasing (as BERT does). `special_tokens` maps
        the roles pad_token/unk_token/cls_token/sep_token/mask_token to tokens (BERT's `[PAD]`... by default);
        `added_tokens` are extra tokens outside the vocabulary, given ids after it in order. `source` names the
        vocabulary in error messages.
        """
        vocab_map = _vocab_map(vocab, source)
        self.special_tokens: dict[str, str] = {**DEFAULT_SPECIAL_TOKENS, **(special_tokens or {})}
        self.additional_special_tokens: list[str] = list(additional_special_tokens)
        self.lowercase = bool(lowercase)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        if not isinstance(model_max_length, int) or model_max_length < 1:
            raise TokenizerError(f"{source}: model_max_length must be a positive integer, got {model_max_length!r}")
        self.model_max_length = model_max_length

        extra_tokens = {t.content for t in added_tokens}
        missing = [t for t in self.special_tokens.values() if t not in vocab_map and t not in extra_tokens]
        if missing:
            raise TokenizerError(f"{source} lacks the special token(s) {', '.join(missing)} that BERT needs")

        tk = tokenizers.Tokenizer(WordPiece(vocab_map, unk_token=self.special_tokens["unk_token"],
                                            continuing_subword_prefix=CONTINUING_PREFIX,
                                            max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD))
        tk.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=self.tokenize_chinese_chars,
                                                   strip_accents=strip_accents, lowercase=self.lowercase)
        tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tk.decoder = decoders.WordPiece(prefix=CONTINUING_PREFIX)
        for token in added_tokens:
            if token.content not in vocab_map and tk.token_to_id(token.content) is None:
                tk.add_tokens([token])
        specials = [*(self.special_tokens[r] for r in SPECIAL_TOKEN_ROLES), *self.additional_special_tokens]
        tk.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in dict.fromkeys(specials)])
        cls, sep = self.special_tokens["cls_token"], self.special_tokens["sep_token"]
        tk.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0",
            pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, tk.token_to_id(cls)), (sep, tk.token_to_id(sep))],
        )
        self._tk = tk
        self._lock = threading.Lock()

    # --- construction -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        """Load a folder (tokenizer.json, else vocab.txt), a vocab.txt file or a tokenizer.json file.

        Settings (do_lower_case, strip_accents, tokenize_chinese_chars, model_max_length, special tokens) come
        from the tokenizer_config.json beside the file when there is one, as `transformers` reads them; a
        tokenizer.json's own normalizer settings are used where the config is silent.
        """
        path = Path(path)
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
            return cls._from_json_file(path, settings)
        return cls._from_vocab_file(path, settings)

    @classmethod
    def _from_vocab_file(cls, path: Path, settings: dict[str, Any]) -> Tokenizer:
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
        return cls(tokens, source=str(path), **settings)

    @classmethod
    def _from_json_file(cls, path: Path, settings: dict[str, Any]) -> Tokenizer:
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
        return cls(vocab, added_tokens=added, source=str(path), **{**from_json, **settings})

    @classmethod
    def train(
        cls,
        files: str | Path | Iterable[str | Path] | Iterator[str],
        vocab_size: int = 30522,
        min_frequency: int = 2,
        special_tokens: Sequence[str] = DEFAULT_TRAIN_SPECIAL_TOKENS,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        limit_alphabet: int = 1000,
        show_progress: bool = True,
    ) -> Tokenizer:
        """Train a WordPiece vocabulary with `tokenizers.trainers.WordPieceTrainer`.

        `files`: a path, or a list/tuple of paths (files, folders or globs; `.gz`/`.bz2` are decompressed),
        read one line per text; or any other iterable of strings (a generator, a file object), used as the texts.
        The special tokens come first, `[PAD]` at id 0 (the five BERT tokens are added when missing).
        `vocab_size` counts everything, special tokens and alphabet included; TokenizerError when the alphabet
        alone (each character and its `##` form, at most `limit_alphabet` characters) does not fit in it.
        Training is not bit-reproducible: the library breaks frequency ties in hash order, so two runs on the
        same corpus can differ in a few tokens and in the ids; keep the saved folder, not the recipe.
        """
        specials = list(dict.fromkeys(["[PAD]", *special_tokens, *DEFAULT_TRAIN_SPECIAL_TOKENS]))
        if vocab_size < len(specials) + 1:
            raise TokenizerError(f"vocab_size {vocab_size} leaves no room beyond the {len(specials)} special tokens")
        tk = tokenizers.Tokenizer(WordPiece(unk_token="[UNK]", continuing_subword_prefix=CONTINUING_PREFIX,
                                            max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD))
        tk.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                   strip_accents=strip_accents, lowercase=lowercase)
        tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            show_progress=show_progress, special_tokens=specials,
                                            limit_alphabet=limit_alphabet, continuing_subword_prefix=CONTINUING_PREFIX)
        if isinstance(files, (str, Path, list, tuple)):
            paths = corpus_files([files] if isinstance(files, (str, Path)) else files)
            if all(p.suffix not in (".gz", ".bz2") for p in paths):
                try:
                    tk.train([str(p) for p in paths], trainer)
                except Exception as err:  # the library raises plain Exception on unreadable files
                    raise DataError(f"cannot train on {', '.join(map(str, paths))}: {err}") from None
            else:
                tk.train_from_iterator(iter_lines(paths), trainer)
        else:
            tk.train_from_iterator(files, trainer)
        vocab = tk.get_vocab(with_added_tokens=True)
        if len(vocab) <= len(specials):
            raise TokenizerError("training produced no tokens beyond the special tokens: is the corpus empty?")
        if len(vocab) > vocab_size:  # the trainer keeps every alphabet character (and its ## form) regardless
            raise TokenizerError(f"the corpus alphabet alone needs {len(vocab)} tokens, more than vocab_size "
                                 f"{vocab_size}: raise vocab_size or lower limit_alphabet ({limit_alphabet})")
        roles = dict(DEFAULT_SPECIAL_TOKENS)
        extra = [t for t in specials if t not in roles.values()]
        return cls(vocab, lowercase=lowercase, strip_accents=strip_accents, special_tokens=roles,
                   additional_special_tokens=extra, source="trained vocabulary")

    # --- saving -------------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json into `folder`.

        `transformers.AutoTokenizer.from_pretrained(folder)` (a BertTokenizerFast) then encodes identically.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / VOCAB_FILE).write_text("".join(t + "\n" for t in self.tokens_in_id_order()), encoding="utf-8")
        self._tk.save(str(folder / TOKENIZER_FILE))
        special_map: dict[str, Any] = dict(self.special_tokens)
        if self.additional_special_tokens:
            special_map["additional_special_tokens"] = list(self.additional_special_tokens)
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": self.lowercase,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "do_basic_tokenize": True,
            "never_split": None,
            "model_max_length": self.model_max_length,
            "clean_up_tokenization_spaces": True,
            **special_map,
        }
        _write_json(folder / CONFIG_FILE, config)
        _write_json(folder / SPECIAL_TOKENS_MAP_FILE, special_map)
        return folder

    def tokens_in_id_order(self) -> list[str]:
        """Every token, index = id (the lines of vocab.txt)."""
        vocab = self.vocab
        tokens = [""] * len(vocab)
        for token, i in vocab.items():
            tokens[i] = token
        return tokens

    # --- vocabulary ---------------------------------------------------------------------------------

    @property
    def backend(self) -> tokenizers.Tokenizer:
        """The wrapped `tokenizers.Tokenizer` (do not leave truncation or padding enabled on it)."""
        return self._tk

    @property
    def vocab_size(self) -> int:
        """Number of ids, added tokens included (what a model's embedding matrix must cover)."""
        return self._tk.get_vocab_size(with_added_tokens=True)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def vocab(self) -> dict[str, int]:
        """Token -> id for every token."""
        return self._tk.get_vocab(with_added_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        """The id of `token`, or None when it is not in the vocabulary."""
        return self._tk.token_to_id(token)

    def id_to_token(self, token_id: int) -> str | None:
        """The token with id `token_id`, or None when the id is out of range."""
        return self._tk.id_to_token(token_id)

    def _special_id(self, role: str) -> int:
        token_id = self._tk.token_to_id(self.special_tokens[role])
        assert token_id is not None  # checked in __init__
        return token_id

    @property
    def pad_token_id(self) -> int:
        return self._special_id("pad_token")

    @property
    def unk_token_id(self) -> int:
        return self._special_id("unk_token")

    @property
    def cls_token_id(self) -> int:
        return self._special_id("cls_token")

    @property
    def sep_token_id(self) -> int:
        return self._special_id("sep_token")

    @property
    def mask_token_id(self) -> int:
        return self._special_id("mask_token")

    @property
    def all_special_ids(self) -> list[int]:
        """Ids of the special tokens (the five BERT roles, then any additional ones)."""
        tokens = [*(self.special_tokens[r] for r in SPECIAL_TOKEN_ROLES), *self.additional_special_tokens]
        return [self._tk.token_to_id(t) for t in dict.fromkeys(tokens)]

    def check_compatible(self, config: BertConfig) -> None:
        """Raise TokenizerError unless a model with `config` can embed every id and pads with our [PAD]."""
        problems = []
        if self.vocab_size > config.vocab_size:
            problems.append(f"the tokenizer has {self.vocab_size} tokens but the model config's vocab_size is "
                            f"{config.vocab_size} (ids {config.vocab_size}..{self.vocab_size - 1} have no embedding)")
        if self.pad_token_id != config.pad_token_id:
            problems.append(f"the tokenizer's {self.special_tokens['pad_token']} has id {self.pad_token_id} but the "
                            f"model config's pad_token_id is {config.pad_token_id}")
        if problems:
            raise TokenizerError("tokenizer does not match the model config: " + "; ".join(problems))

    # --- encoding -----------------------------------------------------------------------------------

    @contextmanager
    def _truncating(self, max_length: int | None, truncation: str | bool | None, stride: int = 0) -> Iterator[None]:
        strategy = _strategy(truncation)
        with self._lock:
            if strategy is None:
                yield
                return
            length = self.model_max_length if max_length is None else max_length
            if length < 1:
                raise TokenizerError(f"max_length must be positive, got {length}")
            self._tk.enable_truncation(length, stride=stride, strategy=strategy, direction="right")
            try:
                yield
            except Exception as err:
                if "Truncation error" in str(err):
                    raise TokenizerError(f"cannot truncate to max_length {length} with strategy {strategy!r} "
                                         f"and stride {stride}: {err}") from None
                raise
            finally:
                self._tk.no_truncation()

    def encode(
        self,
        text: str,
        pair: str | None = None,
        max_length: int | None = None,
        truncation: Truncation | bool | None = None,
        add_special_tokens: bool = True,
    ) -> Encoding:
        """Encode a text or a text pair (no padding).

        `truncation` ("longest_first", "only_first", "only_second"; True = "longest_first") cuts the result to
        `max_length` tokens (default `model_max_length`), special tokens included, exactly as BertTokenizerFast
        does; None leaves it whole. The cut-off pieces are in `.overflowing`.
        """
        with self._truncating(max_length, truncation):
            enc = self._tk.encode(text, pair, add_special_tokens=add_special_tokens)
        return Encoding.from_library(enc)

    def encode_batch(
        self,
        texts: Sequence[str],
        pairs: Sequence[str] | None = None,
        max_length: int | None = None,
        truncation: Truncation | bool | None = None,
        add_special_tokens: bool = True,
    ) -> list[Encoding]:
        """Encode many texts (or text pairs) at once, in parallel in the library; see `encode`."""
        if isinstance(texts, str) or isinstance(pairs, str):
            raise TokenizerError("encode_batch takes lists of texts; use encode for a single text")
        inputs: list[Any] = list(texts)
        if pairs is not None:
            if len(pairs) != len(inputs):
                raise TokenizerError(f"encode_batch got {len(inputs)} texts but {len(pairs)} pairs")
            inputs = list(zip(inputs, pairs, strict=True))
        with self._truncating(max_length, truncation):
            encs = self._tk.encode_batch(inputs, add_special_tokens=add_special_tokens)
        return [Encoding.from_library(e) for e in encs]

    def encode_windows(self, question: str, context: str, max_length: int, stride: int = 128) -> list[Encoding]:
        """Every window of `context` that fits beside `question` in `max_length` tokens (for extractive QA).

        Consecutive windows share `stride` context tokens. Same windows, in the same order, as
        BertTokenizerFast(question, context, truncation="only_second", max_length=max_length, stride=stride,
        return_overflowing_tokens=True); offsets point into `question` where sequence_ids is 0 and into
        `context` where it is 1.
        """
        return self.encode_windows_batch([question], [context], max_length, stride)[0]

    def encode_windows_batch(self, questions: Sequence[str], contexts: Sequence[str], max_length: int,
                             stride: int = 128) -> list[list[Encoding]]:
        """`encode_windows` for many question/context pairs at once: the windows of each pair, in order."""
        if len(questions) != len(contexts):
            raise TokenizerError(f"encode_windows_batch got {len(questions)} questions but {len(contexts)} contexts")
        with self._truncating(max_length, "only_second", stride):
            encs = self._tk.encode_batch(list(zip(questions, contexts, strict=True)))
        return [[Encoding.from_library(w, False) for w in (e, *e.overflowing)] for e in encs]

    def pad(self, encodings: Sequence[Encoding], pad_to_multiple_of: int | None = None,
            padding_side: Literal["right", "left"] = "right") -> dict[str, torch.Tensor]:
        """Pad encodings to the longest (rounded up to `pad_to_multiple_of`) as LongTensors (batch, length).

        Returns input_ids ([PAD] in the padding), attention_mask (0 there) and token_type_ids (0 there).
        """
        import torch

        if not encodings:
            raise TokenizerError("pad got no encodings")
        if padding_side not in ("right", "left"):
            raise TokenizerError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        length = max(len(e) for e in encodings)
        if pad_to_multiple_of:
            length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
        out = {
            "input_ids": torch.full((len(encodings), length), self.pad_token_id, dtype=torch.long),
            "attention_mask": torch.zeros((len(encodings), length), dtype=torch.long),
            "token_type_ids": torch.zeros((len(encodings), length), dtype=torch.long),
        }
        for row, enc in enumerate(encodings):
            n = len(enc)
            span = slice(0, n) if padding_side == "right" else slice(length - n, length)
            out["input_ids"][row, span] = torch.tensor(enc.ids, dtype=torch.long)
            out["attention_mask"][row, span] = torch.tensor(enc.attention_mask, dtype=torch.long)
            out["token_type_ids"][row, span] = torch.tensor(enc.type_ids, dtype=torch.long)
        return out

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of `text`, without special tokens."""
        return self._tk.encode(text, add_special_tokens=False).tokens

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Text from ids (`##` pieces joined, spaces before punctuation cleaned up as BERT does)."""
        return self._tk.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def __repr__(self) -> str:
        return (f"Tokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase}, "
                f"strip_accents={self.strip_accents}, model_max_length={self.model_max_length})")


# --- helpers ----------------------------------------------------------------------------------------


def _strategy(truncation: str | bool | None) -> str | None:
    if truncation is None or truncation is False:
        return None
    if truncation is True:
        return "longest_first"
    if truncation not in TRUNCATION_STRATEGIES:
        raise TokenizerError(f"truncation must be one of {', '.join(TRUNCATION_STRATEGIES)} or None, "
                             f"got {truncation!r}")
    return truncation


def _vocab_map(vocab: Mapping[str, int] | Sequence[str], source: str) -> dict[str, int]:
    """Token -> id with ids 0..n-1, or TokenizerError naming the problem."""
    if isinstance(vocab, Mapping):
        vocab_map = {str(t): int(i) for t, i in vocab.items()}
        by_id: dict[int, str] = {}
        for token, i in vocab_map.items():
            if i in by_id:
                raise TokenizerError(f"{source}: tokens {by_id[i]!r} and {token!r} share id {i}")
            by_id[i] = token
        if set(by_id) != set(range(len(by_id))):
            gaps = sorted(set(range(len(by_id))) - set(by_id))[:5]
            raise TokenizerError(f"{source}: vocabulary ids are not 0..{len(by_id) - 1} (missing e.g. {gaps})")
    else:
        vocab_map = {}
        for i, token in enumerate(vocab):
            if token in vocab_map:
                raise TokenizerError(f"{source}: duplicate token {token!r} at ids {vocab_map[token]} and {i}")
            vocab_map[token] = i
    if not vocab_map:
        raise TokenizerError(f"{source} is empty")
    return vocab_map


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


def corpus_files(patterns: Iterable[str | Path]) -> list[Path]:
    """Expand files, folders (every file below, sorted, hidden ones skipped) and globs into files."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file()
                                and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        else:
            matches = sorted(Path(m) for m in glob.glob(str(pattern), recursive=True) if Path(m).is_file())
            if not matches:
                raise DataError(f"no such file, folder or glob match: {str(pattern)[:200]!r}")
            found.extend(matches)
    if not found:
        raise DataError("no training files (the folders given are empty)")
    return found


def open_text(path: Path) -> Any:
    """Open a plain, .gz or .bz2 text file for reading as UTF-8."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def iter_lines(paths: Iterable[Path]) -> Iterator[str]:
    """Every line of every file (decompressing .gz/.bz2); DataError naming the file when it cannot be read."""
    for path in paths:
        try:
            with open_text(path) as f:
                yield from f
        except (OSError, EOFError, UnicodeDecodeError) as err:
            raise DataError(f"cannot read {path} as UTF-8 text: {err}") from None
