"""Finding input files (paths, folders, globs, exclusions) and opening them, decompressed, as binary streams.

Every byte read from disk goes through a `CountingReader`, which counts it (for the progress bar and the report)
and feeds it to a sha256 (for the manifest), so a source is hashed in the same pass that reads it.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from wellread.errors import DataError
from wellread.textio import decompress, split_compression

__all__ = ["FORMATS", "CountingReader", "SourceFile", "detect_format", "discover", "open_source"]

FORMATS: tuple[str, ...] = ("text", "jsonl", "wiki", "wet", "conll")
"""Input formats; `detect_format` picks one from the file name (after any compression suffix)."""

_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".xml": "wiki", ".wet": "wet",
                   ".warc": "wet", ".conll": "conll", ".conllu": "conll"}
_GLOB_CHARS = set("*?[")


@dataclass
class SourceFile:
    """One input file: where it is, how big, when modified, and (after reading) its sha256."""

    path: Path
    size: int
    mtime: float
    sha256: str | None = None

    @classmethod
    def at(cls, path: Path) -> SourceFile:
        stat = path.stat()
        return cls(path=path, size=stat.st_size, mtime=stat.st_mtime)


def _excluded(path: Path, patterns: Iterable[str]) -> bool:
    names = (path.as_posix(), path.resolve().as_posix(), path.name)
    return any(fnmatch.fnmatch(name, p) for p in patterns for name in names)


def _walk(folder: Path) -> list[Path]:
    """Files under `folder`, recursively, in sorted order, skipping hidden files and folders."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
    return found


def discover(inputs: Iterable[str], exclude: Iterable[str] = ()) -> list[SourceFile]:
    """Expand input paths, folders (recursively) and globs (`**` allowed) into a sorted, de-duplicated list of
    files, minus those matching an `exclude` glob (matched against the path as found, the absolute path and the
    file name; `*` also matches `/`).

    Raises DataError when an input matches nothing or every file is excluded.
    """
    exclude = list(exclude)
    files: dict[Path, None] = {}
    for item in inputs:
        if _GLOB_CHARS & set(item):
            matches = [Path(m) for m in sorted(glob.glob(item, recursive=True))]
        elif Path(item).exists():
            matches = [Path(item)]
        else:
            raise DataError(f"input {item!r} does not exist")
        if not matches:
            raise DataError(f"input glob {item!r} matched no file")
        for match in matches:
            for path in (_walk(match) if match.is_dir() else [match]):
                if path.is_file() and not _excluded(path, exclude):
                    files.setdefault(path.resolve(), None)
    if not files:
        raise DataError(f"no input file left after --exclude {exclude} (inputs: {list(inputs)})")
    return [SourceFile.at(p) for p in files]


def detect_format(path: Path) -> str:
    """Input format from the file name: .jsonl/.ndjson/.json -> jsonl, .xml -> wiki (a MediaWiki dump),
    .wet/.warc -> wet (Common Crawl), .conll/.conllu -> conll, anything else -> text."""
    name, _ = split_compression(path)
    if name.endswith(".warc.wet"):
        return "wet"
    return _SUFFIX_FORMATS.get(Path(name).suffix.lower(), "text")


class CountingReader(io.RawIOBase):
    """A raw reader over a file that counts the bytes read and hashes them (sha256)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.bytes_read = 0
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.bytes_read += n
        return n or 0

    def drain(self) -> None:
        """Read (and hash) the rest of the file, so the digest covers it even when parsing stopped early."""
        while chunk := self._raw.read(1 << 20):
            self.sha256.update(chunk)
            self.bytes_read += len(chunk)

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_source(path: Path) -> tuple[BinaryIO, CountingReader]:
    """Open `path` for reading, decompressing .gz/.bz2/.zst: (decompressed binary stream, its counting reader)."""
    counter = CountingReader(open(path, "rb", buffering=0))  # noqa: SIM115 (closed by the caller)
    return decompress(io.BufferedReader(counter, 1 << 20), path), counter
