"""Training a WordPiece vocabulary on text files or texts (`Tokenizer.train`), and finding the training files."""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from tokenizers import trainers

from wellread.errors import DataError, TokenizerError
from wellread.textio import corpus_paths, read_lines, split_compression
from wellread.tokenizer.pipeline import CONTINUING_PREFIX, DEFAULT_TRAIN_SPECIAL_TOKENS, bert_pipeline


def corpus_files(patterns: Iterable[str | Path]) -> list[Path]:
    """Expand files, folders (every file below, sorted, hidden ones skipped; of a `corpus build` folder, the one
    with manifest.json, its shards) and globs into files."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_file():
            found.append(path)
        elif (path / "manifest.json").is_file():  # a `corpus build` folder: its shards, as `corpus pack` reads them
            found.extend(corpus_paths([path]))
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


def train_vocabulary(
    files: str | Path | Iterable[str | Path] | Iterator[str],
    vocab_size: int,
    min_frequency: int,
    special_tokens: Sequence[str],
    lowercase: bool,
    strip_accents: bool | None,
    limit_alphabet: int,
    show_progress: bool,
) -> tuple[dict[str, int], list[str]]:
    """(token -> id, special tokens in id order): a WordPiece vocabulary trained as `Tokenizer.train` describes."""
    specials = list(dict.fromkeys(["[PAD]", *special_tokens, *DEFAULT_TRAIN_SPECIAL_TOKENS]))
    if vocab_size < len(specials) + 1:
        raise TokenizerError(f"vocab_size {vocab_size} leaves no room beyond the {len(specials)} special tokens")
    tk = bert_pipeline(None, "[UNK]", lowercase=lowercase, strip_accents=strip_accents, tokenize_chinese_chars=True)
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        show_progress=show_progress, special_tokens=specials,
                                        limit_alphabet=limit_alphabet, continuing_subword_prefix=CONTINUING_PREFIX)
    if isinstance(files, (str, Path, list, tuple)):
        paths = corpus_files([files] if isinstance(files, (str, Path)) else files)
        if all(split_compression(p)[1] is None for p in paths):
            try:
                tk.train([str(p) for p in paths], trainer)
            except Exception as err:  # the library raises plain Exception on unreadable files
                raise DataError(f"cannot train on {', '.join(map(str, paths))}: {err}") from None
        else:
            tk.train_from_iterator(read_lines(paths), trainer)
    else:
        tk.train_from_iterator(files, trainer)
    vocab = tk.get_vocab(with_added_tokens=True)
    if len(vocab) <= len(specials):
        raise TokenizerError("training produced no tokens beyond the special tokens: is the corpus empty?")
    if len(vocab) > vocab_size:  # the trainer keeps every alphabet character (and its ## form) regardless
        raise TokenizerError(f"the corpus alphabet alone needs {len(vocab)} tokens, more than vocab_size "
                             f"{vocab_size}: raise vocab_size or lower limit_alphabet ({limit_alphabet})")
    return vocab, specials
