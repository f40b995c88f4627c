"""CoNLL-style token tagging files (NER, chunking, POS): one token per line, whitespace-separated columns, a blank
line after each sentence; CoNLL-2003 `-DOCSTART-` lines are skipped (they also end a sentence).

The tag is read from `tag_column` (default: the last column), so CoNLL-2003 (`token POS chunk NER`) and
two-column files (`token<TAB>tag`, e.g. Brown POS) both work. With `scheme="iob2"` (default) tags must be BIO
(IOB2): `O`, `B-TYPE` or `I-TYPE`, where `I-TYPE` continues a `B-TYPE`/`I-TYPE`; with `scheme="iob1"` IOB1 tags are
converted to IOB2 on reading; `scheme="none"` takes tags as they are (POS). Problems are reported together with
file and line numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from wellread.errors import DataError
from wellread.tasks.common import BadRows, read_lines

SCHEMES = ("iob2", "iob1", "none")


@dataclass(frozen=True)
class TaggedSentence:
    """A sentence's tokens and tags; `line` is the file line of its first token (1-based)."""

    tokens: list[str]
    tags: list[str]
    line: int = 0


def _type(tag: str) -> str:
    return tag[2:]


def is_bio_tag(tag: str) -> bool:
    """True for `O`, `B-TYPE` and `I-TYPE` (TYPE non-empty)."""
    return tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)


def iob2_errors(tags: Sequence[str]) -> list[int]:
    """Positions of `I-TYPE` tags that do not continue an entity of the same type (invalid in IOB2)."""
    errors, previous = [], "O"
    for index, tag in enumerate(tags):
        if tag.startswith("I-") and (previous == "O" or _type(previous) != _type(tag)):
            errors.append(index)
        previous = tag
    return errors


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """Convert IOB1 tags (an entity may start with `I-`; `B-` only between adjacent same-type entities) to IOB2."""
    converted, previous = [], "O"
    for tag in tags:
        starts = tag.startswith("I-") and (previous == "O" or _type(previous) != _type(tag))
        converted.append("B-" + _type(tag) if starts else tag)
        previous = tag
    return converted


def _check_sentence(tags: list[str], lines: list[int], scheme: str, bad: BadRows) -> list[str]:
    if scheme == "none":
        return tags
    shape_errors = [i for i, tag in enumerate(tags) if not is_bio_tag(tag)]
    for i in shape_errors:
        bad.add(lines[i], f"tag {tags[i]!r} is not O, B-TYPE or I-TYPE")
    if shape_errors:
        return tags
    if scheme == "iob1":
        return iob1_to_iob2(tags)
    for i in iob2_errors(tags):
        before = tags[i - 1] if i else "sentence start"
        bad.add(lines[i], f"{tags[i]} after {before} is not valid IOB2")
    return tags


def read_conll(
    path: str | Path, *, tag_column: int = -1, token_column: int = 0, scheme: str = "iob2"
) -> list[TaggedSentence]:
    """Read a CoNLL-format file into sentences (see the module docstring for the format and schemes).

    Every token line must have as many columns as the first one. Column indices may be negative (-1 = last).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    path = Path(path)
    sentences: list[TaggedSentence] = []
    bad = BadRows(path)
    width: int | None = None
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []

    def flush() -> None:
        if tokens:
            checked = _check_sentence(list(tags), lines, scheme, bad)
            sentences.append(TaggedSentence(list(tokens), checked, lines[0]))
        tokens.clear()
        tags.clear()
        lines.clear()

    for number, line in read_lines(path):
        fields = line.split()
        if not fields:
            flush()
            continue
        if fields[0] == "-DOCSTART-":
            flush()
            continue
        if width is None:
            width = len(fields)
            for column in (tag_column, token_column):
                if not -width <= column < width:
                    raise DataError(f"{path}:{number}: column {column} does not exist: the line has {width} columns")
        if len(fields) != width:
            bad.add(number, f"expected {width} columns, found {len(fields)}")
            continue
        tokens.append(fields[token_column])
        tags.append(fields[tag_column])
        lines.append(number)
    flush()
    hint = "if the file uses IOB1 tags, read it with scheme='iob1' to convert them" if scheme == "iob2" else ""
    bad.finish(hint=hint)
    if not sentences:
        raise DataError(f"{path}: no sentences found")
    return sentences


def tag_labels(sentences: Iterable[TaggedSentence]) -> list[str]:
    """The label list of a (training) file: for BIO tags `O` first, then `B-T`, `I-T` per type T in sorted order
    (types seen only with `I-` still get their `B-`); other tag sets (POS) sorted."""
    seen = {tag for sentence in sentences for tag in sentence.tags}
    if seen and all(is_bio_tag(tag) for tag in seen):
        types = sorted({_type(tag) for tag in seen if tag != "O"})
        return ["O"] + [f"{prefix}-{name}" for name in types for prefix in ("B", "I")]
    return sorted(seen)
