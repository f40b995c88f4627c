"""Pipeline inputs from command-line arguments, files or stdin: one record a line, JSON or TSV.

A line that starts with "{" is a JSON object ({"text": ..., "text_pair": ..., "id": ...}); any other line is
tab-separated values in the pipeline's field order (classify: text, text_pair; answer: question, context;
tag and fill-mask: text). Blank lines are skipped. Errors name the file (or "argument N", "stdin") and line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wellread.errors import DataError
from wellread.textio import decode_lines, numbered_lines


def parse_line(line: str, fields: tuple[str, ...], where: str) -> dict[str, Any]:
    """A record from one line: a JSON object, or TSV values in `fields` order."""
    if line.lstrip().startswith("{"):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object")
        return record
    values = line.split("\t")
    if len(values) > len(fields):
        raise DataError(f"{where}: {len(values)} tab-separated values, but this pipeline takes at most "
                        f"{len(fields)} ({', '.join(fields)})")
    return dict(zip(fields, values, strict=False))


def file_lines(path: str) -> Iterator[tuple[str, str]]:
    """(where, line) of a file (or "-": stdin), line ends stripped; DataError naming the file (and the line of
    bad UTF-8)."""
    lines: Iterable[tuple[int, str]]
    if path == "-":  # bytes, decoded line by line; a text stream when stdin has been replaced by one
        stdin = getattr(sys.stdin, "buffer", None)
        lines = decode_lines(stdin, "stdin") if stdin is not None else enumerate(sys.stdin, start=1)
    elif Path(path).is_dir():
        raise DataError(f"{path} is a folder; give a file of records, one a line")
    else:
        lines = numbered_lines(Path(path))
    name = "stdin" if path == "-" else path
    for number, line in lines:
        yield f"{name}:{number}", line.rstrip("\r\n")


def read_records(arguments: Iterable[str], files: Iterable[str], fields: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(where, record) of every argument, then every file's lines; stdin when neither is given."""
    records = [(f"argument {i}", parse_line(text, fields, f"argument {i}"))
               for i, text in enumerate(arguments, start=1)]
    files = list(files) or ([] if records else ["-"])
    for path in files:
        records.extend((where, parse_line(line, fields, where)) for where, line in file_lines(path) if line.strip())
    if not records:
        raise DataError("no inputs: give texts as arguments, --input FILE, or lines on stdin")
    return records
