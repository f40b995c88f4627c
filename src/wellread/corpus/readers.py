"""Readers that turn one decompressed input stream into documents, streaming (memory bounded by one document).

Formats: plain text (a document is a blank-line-separated block, or a line), JSONL (one record a line, text in a
field), Common Crawl WET (WARC `conversion` records), CoNLL (token per line; sentences joined), and MediaWiki XML
dumps (`wellread.corpus.wiki`). Problems in the input (bad UTF-8, truncated compressed files, broken records) are
recorded in the `ReadContext` with file and line and never stop the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from wellread.corpus.report import Problems
from wellread.textio import STREAM_ERRORS

__all__ = ["DOC_SPLITS", "Document", "ReadContext", "iter_lines", "read_conll", "read_jsonl", "read_text",
           "read_wet"]

DOC_SPLITS: tuple[str, ...] = ("auto", "blank-line", "line")
"""How plain text is cut into documents; auto = blank-line blocks, unless the first 1,000 lines hold no blank line
(a file of one record per line, like a glossary), then one document per line."""

_AUTO_PROBE_LINES = 1000
_MAX_BLOCK_CHARS = 10_000_000  # a blank-line block is cut here so one huge block cannot exhaust memory


@dataclass(slots=True)
class Document:
    """One document as read: raw text (normalised later), where it came from, and what is known about it."""

    text: str
    line: int
    """Line of the input (decompressed) where the document starts."""
    date: str | None = None
    url: str | None = None
    title: str | None = None
    malformed: bool = False
    """The record could not be read (bad JSON, no text field, broken WARC header): counted, not kept."""


@dataclass
class ReadContext:
    """What a reader needs besides the stream: the file's name (for messages), the problem log, options."""

    name: str
    problems: Problems
    text_field: str = "text"
    doc_split: str = "auto"
    offset: Callable[[], int] | None = None
    """Compressed bytes consumed so far (reported with truncation)."""
    used_split: str | None = None
    """The doc split actually used for a text file (set by read_text)."""
    problem_counts: dict[str, int] | None = None
    """Per-file problem counter to update besides the shared log."""

    def problem(self, kind: str, line: int | None, message: str) -> None:
        offset = self.offset() if self.offset and kind == "truncated" else None
        self.problems.add(kind, self.name, line, message, offset)
        if self.problem_counts is not None:
            self.problem_counts[kind] = self.problem_counts.get(kind, 0) + 1


def decode(raw: bytes, ctx: ReadContext, line: int) -> str:
    """UTF-8 text of `raw`; invalid bytes become U+FFFD and are reported once per line."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        ctx.problem("bad_utf8", line, f"invalid UTF-8 at byte {err.start} of the line: {err.reason}")
        return raw.decode("utf-8", errors="replace")


def iter_lines(stream: BinaryIO, ctx: ReadContext) -> Iterator[tuple[int, str]]:
    """(line number, decoded line without its line end) for each line; stops, with a `truncated` problem, when a
    compressed stream ends early."""
    lineno = 0
    lines = iter(stream)
    while True:
        try:
            raw = next(lines)
        except StopIteration:
            return
        except STREAM_ERRORS as err:
            ctx.problem("truncated", lineno + 1, f"stream ended early after line {lineno}: {err}")
            return
        lineno += 1
        yield lineno, decode(raw, ctx, lineno).rstrip("\r\n")


def _probe_split(lines: list[tuple[int, str]]) -> str:
    return "blank-line" if any(not text.strip() for _, text in lines) else "line"


def read_text(stream: BinaryIO, ctx: ReadContext) -> Iterator[Document]:
    """Plain text: documents are blank-line-separated blocks, or single lines (`ctx.doc_split`)."""
    lines = iter_lines(stream, ctx)
    split = ctx.doc_split
    head: list[tuple[int, str]] = []
    if split == "auto":
        for item in lines:
            head.append(item)
            if len(head) >= _AUTO_PROBE_LINES:
                break
        split = _probe_split(head)
    ctx.used_split = split
    source = _chain(head, lines)
    if split == "line":
        for lineno, text in source:
            if text.strip():
                yield Document(text, lineno)
        return
    block: list[str] = []
    start = size = 0
    for lineno, text in source:
        if text.strip():
            if not block:
                start = lineno
            block.append(text)
            size += len(text)
            if size < _MAX_BLOCK_CHARS:
                continue
        if block:
            yield Document("\n".join(block), start)
            block, size = [], 0
    if block:
        yield Document("\n".join(block), start)


def _chain(head: list[tuple[int, str]], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield from head
    yield from rest


def read_jsonl(stream: BinaryIO, ctx: ReadContext) -> Iterator[Document]:
    """JSONL: one JSON object a line, text in `ctx.text_field`; `date`/`timestamp` and `url` fields are kept.
    A line that is not JSON, or lacks the field, is reported and yields a malformed document."""
    for lineno, line in iter_lines(stream, ctx):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as err:
            ctx.problem("bad_json", lineno, f"not JSON: {err}")
            yield Document("", lineno, malformed=True)
            continue
        text = record.get(ctx.text_field) if isinstance(record, dict) else None
        if not isinstance(text, str):
            what = "not an object" if not isinstance(record, dict) else (
                f"no {ctx.text_field!r} field" if ctx.text_field not in record
                else f"{ctx.text_field!r} is {type(text).__name__}, not a string")
            ctx.problem("missing_field", lineno, what)
            yield Document("", lineno, malformed=True)
            continue
        date = record.get("date") or record.get("timestamp")
        url = record.get("url")
        yield Document(text, lineno, date=str(date) if date else None, url=url if isinstance(url, str) else None)


def read_conll(stream: BinaryIO, ctx: ReadContext) -> Iterator[Document]:
    """CoNLL (one token per line, the token in the first column, a blank line after each sentence): sentences
    become lines of text, tokens joined by spaces. `-DOCSTART-` lines separate documents; a file without them
    yields one document per sentence."""
    sentences: list[str] = []
    tokens: list[str] = []
    start = 0
    docstarts = False
    for lineno, line in iter_lines(stream, ctx):
        fields = line.split()
        if fields and fields[0] == "-DOCSTART-":
            docstarts = True
            if sentences:
                yield Document("\n".join(sentences), start)
            sentences = []
            continue
        if fields:
            if not tokens and not sentences:
                start = lineno
            tokens.append(fields[0])
            continue
        if tokens:
            sentences.append(" ".join(tokens))
            tokens = []
            if not docstarts:
                yield Document(sentences.pop(), start)
    if tokens:
        sentences.append(" ".join(tokens))
    if sentences:
        yield Document("\n".join(sentences), start)


_WARC_VERSION = re.compile(rb"^WARC/\d")


def read_wet(stream: BinaryIO, ctx: ReadContext) -> Iterator[Document]:
    """Common Crawl WET: WARC records; each `WARC-Type: conversion` record's content block is a document, with its
    `WARC-Target-URI` and `WARC-Date`. A record with a broken header is reported and skipped (the reader re-syncs
    on the next `WARC/` line)."""
    lineno = 0
    try:
        while True:
            raw = stream.readline()
            if not raw:
                return
            lineno += 1
            if not _WARC_VERSION.match(raw):
                continue  # blank separator lines, or garbage skipped while re-syncing
            start = lineno
            headers: dict[str, str] = {}
            while (raw := stream.readline()) and raw.strip():
                lineno += 1
                name, sep, value = decode(raw, ctx, lineno).partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            lineno += 1 if raw else 0
            try:
                length = int(headers["content-length"])
            except (KeyError, ValueError):
                ctx.problem("bad_record", start, "WARC record without a valid Content-Length")
                yield Document("", start, malformed=True)
                continue
            body = stream.read(length)
            if len(body) < length:
                raise EOFError(f"WARC record at line {start} cut short ({len(body)} of {length} bytes)")
            if headers.get("warc-type") == "conversion":
                date = headers.get("warc-date")
                yield Document(decode(body, ctx, lineno + 1), lineno + 1, date=date,
                               url=headers.get("warc-target-uri"))
            lineno += body.count(b"\n")
    except STREAM_ERRORS as err:
        ctx.problem("truncated", lineno + 1, f"stream ended early after line {lineno}: {err}")
