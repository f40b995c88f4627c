"""Opening input files: plain or compressed (.gz, .bz2, .zst/.zstd), read as bytes, as UTF-8 text lines or as
corpus documents; and writing a text output so that it replaces the old file only when complete
(`write_text_atomic`).

Every reader of user files (tokenizer training, corpus packing, corpus building, the task readers, the inference
inputs) opens them here, so each one takes the same compressions and reports an unreadable file with its name.

    for line in read_lines([Path("corpus.txt.gz"), Path("more.txt")]):   # DataError names a file it cannot read
        ...
    for number, line in numbered_lines(Path("dev.csv")):                 # DataError at dev.csv:LINE for bad UTF-8
        ...
    stream = decompress(open(path, "rb"), path)                          # bytes, decompressed by the suffix
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

from wellread.errors import DataError, WellreadError

__all__ = ["COMPRESSIONS", "STREAM_ERRORS", "corpus_paths", "decode_lines", "decompress", "numbered_lines",
           "read_documents", "read_lines", "split_compression", "write_text_atomic"]

COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}
"""File suffix -> compression read transparently."""

STREAM_ERRORS: tuple[type[Exception], ...] = (EOFError, OSError, zlib.error, zstandard.ZstdError)
"""What reading a damaged or truncated (compressed) file raises."""


def split_compression(path: Path) -> tuple[str, str | None]:
    """(file name without the compression suffix, compression or None)."""
    suffix = path.suffix.lower()
    if suffix in COMPRESSIONS:
        return path.name[: -len(suffix)], COMPRESSIONS[suffix]
    return path.name, None


def decompress(stream: BinaryIO, path: Path) -> BinaryIO:
    """`stream` (the bytes of `path`) decompressed as the suffix of `path` says; `stream` itself when uncompressed.

    Closing the result does not close `stream`. A truncated file raises EOFError when reading reaches its end.
    """
    _, compression = split_compression(path)
    if compression == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if compression == "bz2":
        return bz2.BZ2File(stream, mode="rb")
    if compression == "zstd":
        return io.BufferedReader(_ZstdReader(stream), 1 << 20)
    return stream


def read_lines(paths: Iterable[Path]) -> Iterator[str]:
    """Every line (with its line end) of every file, decompressed, as UTF-8 text.

    DataError naming the file when one cannot be opened, decompressed or decoded.
    """
    for path in paths:
        try:
            with open(path, "rb") as raw, io.TextIOWrapper(decompress(raw, path), encoding="utf-8") as text:
                yield from text
        except (*STREAM_ERRORS, UnicodeDecodeError) as err:
            raise DataError(f"cannot read {path} as UTF-8 text: {err}") from None


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number from 1, line with its end) of a UTF-8 text file, decompressed by its suffix (`decode_lines`).

    DataError naming the file when it is missing, a folder or unreadable, and `FILE:LINE` for a line that is not
    UTF-8.
    """
    try:
        with open(path, "rb") as raw, decompress(raw, path) as stream:
            yield from decode_lines(stream, str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder; give a file") from None
    except STREAM_ERRORS as err:
        raise DataError(f"cannot read {path}: {err}") from None


def decode_lines(stream: Iterable[bytes], name: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, line with its end) of a byte stream: lines end at "\n" only (a "\r" before it stays
    in the line, as does any other Unicode line separator), a UTF-8 byte-order mark at the start is removed.

    Each line is decoded on its own, so bad UTF-8 is reported at its own line: DataError `NAME:LINE: not valid
    UTF-8 (byte 0x.. at column C)`. (Decoding a whole buffer at once reports the line where the buffer started.)
    """
    for number, data in enumerate(stream, start=1):
        if number == 1:
            data = data.removeprefix(codecs.BOM_UTF8)
        try:
            yield number, data.decode("utf-8")
        except UnicodeDecodeError as err:
            column = len(data[:err.start].decode("utf-8", errors="replace")) + 1
            raise DataError(f"{name}:{number}: not valid UTF-8 (byte 0x{data[err.start]:02x} at column {column}); "
                            "save the file as UTF-8") from None


class _ZstdReader(io.RawIOBase):
    """Decompresses a (possibly multi-frame) zstd stream; unlike zstandard's stream_reader it raises EOFError
    when the input ends inside a frame, so a truncated .zst is reported like a truncated .gz."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._in_frame = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd stream ended inside a frame (truncated file)")
                return 0
            while chunk:
                self._in_frame = True
                self._pending += self._dobj.decompress(chunk)
                chunk = b""
                if self._dobj.eof:
                    chunk = self._dobj.unused_data
                    self._dobj = self._dctx.decompressobj()
                    self._in_frame = False
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def read_documents(paths: Iterable[Path], text_field: str = "text") -> Iterator[str]:
    """Documents from `corpus build` shards (*.jsonl, *.jsonl.gz) or plain text (blank-line separated), plain or
    compressed; DataError naming the file when one cannot be read."""
    for path in paths:
        lines = read_lines([path])
        if ".jsonl" in path.name:
            for line_no, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)[text_field]
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    raise DataError(f"{path}:{line_no}: not a JSON record with a {text_field!r} field "
                                    f"({err})") from None
        else:
            block: list[str] = []
            for line in lines:
                if line.strip():
                    block.append(line.rstrip("\n"))
                elif block:
                    yield "\n".join(block)
                    block = []
            if block:
                yield "\n".join(block)


def corpus_paths(inputs: Iterable[str | Path]) -> list[Path]:
    """Files named, or the shard/text files inside folders named."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and (".jsonl" in p.name or p.suffix == ".txt"))
            paths.extend(found)
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"no such file or folder: {item}")
    if not paths:
        raise DataError(f"no corpus files (*.jsonl[.gz], *.txt) under {', '.join(map(str, inputs))}")
    return paths


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` beside `path`, then rename it over `path`: readers see the old file or the new one, never a
    part. A failed write (a full disk) keeps the old file and raises WellreadError naming `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise WellreadError(f"cannot write {path}: {err.strerror or err}; the previous file, if any, is kept") from None
