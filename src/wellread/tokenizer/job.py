"""The vocabulary-training job: `TokenizerTrainOptions` (the options of `wellread tokenizer train` and of a recipe's
tokenizer stage) and `train_tokenizer`, which both run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wellread.options import option, positive
from wellread.textio import read_documents
from wellread.tokenizer.pipeline import DEFAULT_TRAIN_SPECIAL_TOKENS
from wellread.tokenizer.training import corpus_files
from wellread.tokenizer.wordpiece import Tokenizer


@dataclass(kw_only=True)
class TokenizerTrainOptions:
    """How a WordPiece vocabulary is trained, and on what."""

    corpus: list[str] | None = option(None, positional=True, cli_required=True, metavar="FILES",
                                      help="text files (one text per line), `corpus build` folders or *.jsonl shards "
                                           "(their records' text), folders or globs; .gz/.bz2/.zst accepted (a "
                                           "recipe: default the previous stage's corpus)")
    out: Path | None = option(None, cli_required=True, metavar="DIR", help="folder to write the tokenizer files into")
    vocab_size: int = option(30522, help="vocabulary size, special tokens and alphabet included")
    min_frequency: int = option(2, help="least count of a pair for it to be merged")
    lowercase: bool = option(True, flag="--cased", help="keep case (default: lowercase, as bert-base-uncased)")
    strip_accents: bool = option(False, help="strip accents (default: strip exactly when lowercasing, as BERT does)")
    keep_accents: bool = option(False, help="keep accents")
    special_tokens: list[str] = option(list(DEFAULT_TRAIN_SPECIAL_TOKENS), comma=True, metavar="TOKENS",
                                       help="comma-separated special tokens, given the first ids; [PAD] is always id "
                                            "0 and the five BERT tokens are always included")
    limit_alphabet: int = option(1000, help="most distinct characters kept in the alphabet")
    model_max_length: int = option(512, help="longest input the model takes, saved for truncation")
    quiet: bool = option(False, help="no progress bars")

    @property
    def accents(self) -> bool | None:
        """`Tokenizer.train`'s strip_accents: True, False, or None (strip exactly when lowercasing)."""
        return True if self.strip_accents else False if self.keep_accents else None

    def check(self) -> list[tuple[str, str]]:
        """(field, problem) pairs: sizes that are not positive, a negative frequency, both accent switches."""
        problems = positive(self, "vocab_size", "limit_alphabet", "model_max_length")
        if self.min_frequency < 0:
            problems.append(("min_frequency", f"must be >= 0, got {self.min_frequency}"))
        if self.strip_accents and self.keep_accents:
            problems.append(("keep_accents", "strip_accents and keep_accents exclude each other"))
        return problems


def train_tokenizer(opts: TokenizerTrainOptions, texts: Iterator[str] | None = None) -> Tokenizer:
    """A vocabulary trained on `texts` (a recipe: the corpus's documents), else on the lines of `opts.corpus`'s
    files, saved into `opts.out` with `opts.model_max_length`."""
    source: Iterator[str] | list[Path] | None = texts
    if source is None:
        files = corpus_files(opts.corpus or [])
        print(f"training on {len(files)} file(s): {', '.join(str(f) for f in files[:5])}"
              f"{' ...' if len(files) > 5 else ''}")
        # `corpus build` shards hold JSON records: train on their texts, not on the JSON lines
        source = read_documents(files) if any(".jsonl" in f.name for f in files) else files
    tokenizer = Tokenizer.train(source, vocab_size=opts.vocab_size, min_frequency=opts.min_frequency,
                                special_tokens=opts.special_tokens, lowercase=opts.lowercase,
                                strip_accents=opts.accents, limit_alphabet=opts.limit_alphabet,
                                show_progress=not opts.quiet)
    tokenizer.model_max_length = opts.model_max_length
    tokenizer.save(Path(opts.out))
    return tokenizer
