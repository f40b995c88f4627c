"""The `Tokenizer` class: BERT's WordPiece pipeline around a vocabulary, its special tokens, and encoding."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import tokenizers
from tokenizers import AddedToken, processors

from wellread.errors import TokenizerError
from wellread.tokenizer.encoding import Encoding, Truncation, pad_encodings, truncation_strategy
from wellread.tokenizer.files import read_tokenizer_files, write_tokenizer_files
from wellread.tokenizer.pipeline import (
    DEFAULT_SPECIAL_TOKENS,
    DEFAULT_TRAIN_SPECIAL_TOKENS,
    SPECIAL_TOKEN_ROLES,
    bert_pipeline,
    vocab_map,
)
from wellread.tokenizer.training import train_vocabulary

if TYPE_CHECKING:
    import torch

    from wellread.config import BertConfig


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
        tokens = vocab_map(vocab, source)
        self.special_tokens: dict[str, str] = {**DEFAULT_SPECIAL_TOKENS, **(special_tokens or {})}
        self.additional_special_tokens: list[str] = list(additional_special_tokens)
        self.lowercase = bool(lowercase)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        if not isinstance(model_max_length, int) or model_max_length < 1:
            raise TokenizerError(f"{source}: model_max_length must be a positive integer, got {model_max_length!r}")
        self.model_max_length = model_max_length

        extra_tokens = {t.content for t in added_tokens}
        missing = [t for t in self.special_tokens.values() if t not in tokens and t not in extra_tokens]
        if missing:
            raise TokenizerError(f"{source} lacks the special token(s) {', '.join(missing)} that BERT needs")

        tk = bert_pipeline(tokens, self.special_tokens["unk_token"], lowercase=self.lowercase,
                           strip_accents=strip_accents, tokenize_chinese_chars=self.tokenize_chinese_chars)
        for token in added_tokens:
            if token.content not in tokens and tk.token_to_id(token.content) is None:
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
        vocab, arguments = read_tokenizer_files(Path(path))
        return cls(vocab, **arguments)

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

        `files`: a path, or a list/tuple of paths (files, folders or globs; `.gz`/`.bz2`/`.zst` are decompressed),
        read one line per text; or any other iterable of strings (a generator, a file object), used as the texts.
        The special tokens come first, `[PAD]` at id 0 (the five BERT tokens are added when missing).
        `vocab_size` counts everything, special tokens and alphabet included; TokenizerError when the alphabet
        alone (each character and its `##` form, at most `limit_alphabet` characters) does not fit in it.
        Training is not bit-reproducible: the library breaks frequency ties in hash order, so two runs on the
        same corpus can differ in a few tokens and in the ids; keep the saved folder, not the recipe.
        """
        vocab, specials = train_vocabulary(files, vocab_size, min_frequency, special_tokens, lowercase, strip_accents,
                                           limit_alphabet, show_progress)
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
        write_tokenizer_files(self, folder)
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
        strategy = truncation_strategy(truncation)
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
        return pad_encodings(encodings, self.pad_token_id, pad_to_multiple_of, padding_side)

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of `text`, without special tokens."""
        return self._tk.encode(text, add_special_tokens=False).tokens

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Text from ids (`##` pieces joined, spaces before punctuation cleaned up as BERT does)."""
        return self._tk.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def __repr__(self) -> str:
        return (f"Tokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase}, "
                f"strip_accents={self.strip_accents}, model_max_length={self.model_max_length})")
