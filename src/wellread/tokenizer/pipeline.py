"""BERT's tokenization pipeline on a `tokenizers.Tokenizer`, its special tokens and its vocabulary checks.

BertNormalizer (clean text, split CJK characters, lowercase, strip accents) -> BertPreTokenizer (whitespace and
punctuation) -> WordPiece (`##` continuations, `[UNK]` for words longer than 100 characters or made of unknown
pieces) -> `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]` -> WordPiece decoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tokenizers
from tokenizers import decoders, normalizers, pre_tokenizers
from tokenizers.models import WordPiece

from wellread.errors import TokenizerError

SPECIAL_TOKEN_ROLES: tuple[str, ...] = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
"""The special tokens every BERT vocabulary needs, by their `transformers` attribute names."""
DEFAULT_SPECIAL_TOKENS: dict[str, str] = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
                                          "sep_token": "[SEP]", "mask_token": "[MASK]"}
DEFAULT_TRAIN_SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

CONTINUING_PREFIX = "##"
MAX_INPUT_CHARS_PER_WORD = 100


def bert_pipeline(vocab: dict[str, int] | None, unk_token: str, *, lowercase: bool, strip_accents: bool | None,
                  tokenize_chinese_chars: bool) -> tokenizers.Tokenizer:
    """A `tokenizers.Tokenizer` with BERT's WordPiece model (empty when `vocab` is None, for training),
    normalizer, pre-tokenizer and decoder; no special tokens or post-processor yet."""
    tk = tokenizers.Tokenizer(WordPiece(vocab, unk_token=unk_token, continuing_subword_prefix=CONTINUING_PREFIX,
                                        max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD))
    tk.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=tokenize_chinese_chars,
                                               strip_accents=strip_accents, lowercase=lowercase)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tk.decoder = decoders.WordPiece(prefix=CONTINUING_PREFIX)
    return tk


def vocab_map(vocab: Mapping[str, int] | Sequence[str], source: str) -> dict[str, int]:
    """Token -> id with ids 0..n-1, or TokenizerError naming the problem (`source` names the vocabulary)."""
    if isinstance(vocab, Mapping):
        tokens = {str(t): int(i) for t, i in vocab.items()}
        by_id: dict[int, str] = {}
        for token, i in tokens.items():
            if i in by_id:
                raise TokenizerError(f"{source}: tokens {by_id[i]!r} and {token!r} share id {i}")
            by_id[i] = token
        if set(by_id) != set(range(len(by_id))):
            gaps = sorted(set(range(len(by_id))) - set(by_id))[:5]
            raise TokenizerError(f"{source}: vocabulary ids are not 0..{len(by_id) - 1} (missing e.g. {gaps})")
    else:
        tokens = {}
        for i, token in enumerate(vocab):
            if token in tokens:
                raise TokenizerError(f"{source}: duplicate token {token!r} at ids {tokens[token]} and {i}")
            tokens[token] = i
    if not tokens:
        raise TokenizerError(f"{source} is empty")
    return tokens
