"""The user's own sentence(-pair) classification or regression data: CSV, TSV or JSON Lines.

The format follows the file suffix (`.csv`; `.tsv`/`.tab`; `.jsonl`/`.ndjson`/`.json`) unless `file_format` is
given. CSV uses standard quoting (as written by spreadsheets and pandas); TSV has quoting disabled (GLUE style:
a `"` is an ordinary character); both need a header row naming the columns. JSONL has one JSON object per line.

Missing columns are reported with the columns that exist; row problems (empty text, unknown or missing
label, unparsable score, bad JSON, wrong field count) are collected and reported together with file and line.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from wellread.errors import DataError
from wellread.tasks.common import BadRows, Example, read_lines, split_tsv
from wellread.textio import numbered_lines

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def _table_rows(path: Path, file_format: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) per record of a CSV/TSV file, the header included."""
    if file_format == "tsv":
        for number, line in read_lines(path):
            if line.strip():
                yield number, split_tsv(line)
        return
    # Lines are decoded one by one (bad UTF-8 is reported at its own line); csv joins a quoted field's lines.
    reader = csv.reader(line for _, line in numbered_lines(path))
    start = 1
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                yield start, fields
            start = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{path}:{start}: cannot parse as CSV ({error})") from None


def _json_rows(path: Path, bad: BadRows) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            bad.add(number, f"not valid JSON ({error.msg} at column {error.colno})")
            continue
        if not isinstance(row, dict):
            bad.add(number, f"expected a JSON object, found {type(row).__name__}")
            continue
        yield number, row


def _label(value: Any, column: str, labels: Sequence[str] | None, regression: bool) -> str | float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"empty {column!r}")
    if regression:
        if isinstance(value, bool):
            raise ValueError(f"{column} {value!r} is not a number")
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{column} {value!r} is not a number") from None
        if not math.isfinite(score):
            raise ValueError(f"{column} {value!r} is not a finite number")
        return score
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value).strip()
    else:
        raise ValueError(f"{column} {value!r} is not a label")
    if labels is not None and text not in labels:
        raise ValueError(f"unknown label {text!r} in {column!r} (labels: {', '.join(labels)})")
    return text


def _text(value: Any, column: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{column!r} is {type(value).__name__}, not text")
    if not value.strip():
        raise ValueError(f"empty text in {column!r}")
    return value


def load_custom(
    path: str | Path,
    text_column: str = "text",
    text_pair_column: str | None = None,
    label_column: str | None = "label",
    labels: Sequence[str] | None = None,
    regression: bool = False,
    *,
    file_format: str | None = None,
    skip_bad_rows: bool = False,
    skipped: list[BadRows] | None = None,
) -> list[Example]:
    """Examples from a CSV/TSV/JSONL file of single texts or text pairs.

    `label_column=None` reads unlabelled data (label None). With `labels`, any other label is an error; without,
    every non-empty label string is accepted (collect the label list with `collect_labels`). With
    `regression=True` labels are parsed as finite floats. `skip_bad_rows=True` drops bad rows with a
    `DataWarning` instead of raising (and adds their `BadRows` to `skipped` when given, to be counted).
    """
    path = Path(path)
    file_format = file_format or FORMATS.get(path.suffix.lower())
    if file_format not in ("csv", "tsv", "jsonl"):
        raise DataError(f"{path}: cannot tell the format from the suffix; use file_format='csv', 'tsv' or 'jsonl'")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    wanted = [c for c in (text_column, text_pair_column, label_column) if c is not None]
    bad = BadRows(path)
    records: Iterator[tuple[int, dict[str, Any]]] = (
        _json_rows(path, bad) if file_format == "jsonl" else _table_records(path, file_format, wanted, bad)
    )
    examples = []
    for number, row in records:
        missing = [c for c in wanted if c not in row]
        if missing:
            bad.add(number, f"no {', '.join(map(repr, missing))}; keys present: {sorted(row)}")
            continue
        try:
            text_a = _text(row[text_column], text_column)
            text_b = _text(row[text_pair_column], text_pair_column) if text_pair_column else None
            label = _label(row[label_column], label_column, labels, regression) if label_column else None
        except ValueError as error:
            bad.add(number, str(error))
            continue
        examples.append(Example(text_a, text_b, label, str(row.get("id", f"{path.stem}-{number}")), number))
    bad.finish(skip_bad_rows, hint="pass skip_bad_rows=True (--skip-bad-rows) to drop these rows with a warning",
               skipped=skipped)
    if not examples:
        raise DataError(f"{path}: no examples found")
    return examples


def _table_records(
    path: Path, file_format: str, wanted: list[str], bad: BadRows
) -> Iterator[tuple[int, dict[str, Any]]]:
    rows = _table_rows(path, file_format)
    header_line, header = next(rows, (0, []))
    if not header:
        raise DataError(f"{path}: the file is empty (a header row naming the columns is needed)")
    header = [name.strip() for name in header]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataError(f"{path}:{header_line}: no column {', '.join(map(repr, missing))}; columns: {header}")
    for number, fields in rows:
        if len(fields) != len(header):
            bad.add(number, f"expected {len(header)} fields, found {len(fields)}")
            continue
        yield number, dict(zip(header, fields, strict=True))
