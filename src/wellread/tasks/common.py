"""Shared pieces of the task readers: the `Example` record, tab-separated line reading and bad-row reporting.

Every reader reports problems in the user's files as `wellread.errors.DataError` naming the file and the
1-based line number. Row-level problems are collected over the whole file and reported together (count plus
the first few locations), so one run tells the user everything that is wrong. Readers that accept
`skip_bad_rows=True` drop those rows instead, but never silently: they emit a `DataWarning` with the same
report.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wellread.errors import DataError
from wellread.textio import numbered_lines

#: How many bad rows a report lists before saying "... and N more".
MAX_LISTED = 10


class DataWarning(UserWarning):
    """Rows of an input file were skipped (the message gives the count, file and line numbers)."""


@dataclass(frozen=True)
class Example:
    """One sentence or sentence-pair example.

    `label` is the label string as it appears in the task's label list (classification), a float
    (regression) or None (unlabelled, e.g. a test split). `guid` is the row's own id when the file has one
    (GLUE `index`, SICK `pair_ID`), otherwise `"<split>-<line>"`; `line` is the 1-based line in the file.
    """

    text_a: str
    text_b: str | None
    label: str | float | None
    guid: str
    line: int = 0


@dataclass
class BadRows:
    """Collects row-level problems of one file, then raises or warns once with all of them."""

    path: Path
    problems: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, reason: str) -> None:
        """Record that `line` (1-based) is bad because of `reason`."""
        self.problems.append((line, reason))

    def __len__(self) -> int:
        return len(self.problems)

    def report(self) -> str:
        """A multi-line description: the count, then `file:line: reason` for the first MAX_LISTED rows."""
        lines = [f"{len(self.problems)} bad row(s) in {self.path}:"]
        lines += [f"  {self.path}:{line}: {reason}" for line, reason in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED} more")
        return "\n".join(lines)

    def finish(self, skip: bool = False, hint: str = "", skipped: list[BadRows] | None = None) -> None:
        """Raise DataError listing the bad rows (or, when `skip`, warn that they were skipped, and add this record
        to `skipped`, so the caller can count them in its results)."""
        if not self.problems:
            return
        if skip:
            warnings.warn(f"skipped {self.report()}", DataWarning, stacklevel=3)
            if skipped is not None:
                skipped.append(self)
            return
        raise DataError(self.report() + (f"\n{hint}" if hint else ""))

    def to_json(self) -> dict[str, object]:
        """For results.json: the file, how many rows were bad, and the first MAX_LISTED as `line N: reason`."""
        return {"file": str(self.path), "rows": len(self.problems),
                "first": [f"line {line}: {reason}" for line, reason in self.problems[:MAX_LISTED]]}


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield `(line_number, line)` for every line of a UTF-8 text file, without its line end.

    A UTF-8 byte-order mark is removed, CRLF and LF endings are both accepted, and only `\\n` ends a line (a
    stray `\\r` or other Unicode line separator inside a field stays in the field). Bad UTF-8 is a DataError at
    its file and line (`wellread.textio.numbered_lines`).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    for number, line in numbered_lines(path):
        yield number, line.removesuffix("\n").removesuffix("\r")


def split_tsv(line: str) -> list[str]:
    """Split one TSV line on tabs with quoting disabled (GLUE style, `csv.QUOTE_NONE`)."""
    return line.split("\t")


def collect_labels(examples: list[Example]) -> list[str]:
    """The sorted distinct string labels of `examples` (None labels ignored)."""
    return sorted({ex.label for ex in examples if isinstance(ex.label, str)})
