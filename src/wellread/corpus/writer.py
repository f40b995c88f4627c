"""Sharded output: gzipped JSONL (`part-00000.jsonl.gz`, one record a line) or plain text (`part-00000.txt`,
documents separated by a blank line). A shard is written under a `.tmp` name and renamed when complete, so a
folder never holds a half-written shard under its final name."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any

__all__ = ["OUTPUT_FORMATS", "ShardWriter", "encode_record"]

OUTPUT_FORMATS: dict[str, str] = {"jsonl": ".jsonl.gz", "text": ".txt"}
"""Output format -> shard file suffix."""

_FLUSH_BYTES = 1 << 20


def encode_record(record: dict[str, Any], fmt: str) -> bytes:
    """One document as written to a shard: a JSON line (jsonl) or its text and a blank line (text)."""
    if fmt == "jsonl":
        return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
    return record["text"].encode("utf-8") + b"\n\n"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class ShardWriter:
    """Writes records to shards of about `shard_bytes` bytes on disk each (compressed size for jsonl; checked
    every min(1 MB, shard_bytes / 4) of uncompressed records, so a shard can overshoot a little)."""

    def __init__(self, folder: Path, fmt: str = "jsonl", shard_bytes: int = 128 << 20) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {fmt!r}")
        self.folder, self.fmt, self.shard_bytes = folder, fmt, shard_bytes
        self.shards: list[dict[str, Any]] = []
        self._raw: IO[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._docs = 0
        self._path: Path | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._flush_bytes = max(1, min(_FLUSH_BYTES, shard_bytes // 4))

    def _open(self) -> None:
        self._path = self.folder / f"part-{len(self.shards):05d}{OUTPUT_FORMATS[self.fmt]}"
        self._raw = open(self._path.with_name(self._path.name + ".tmp"), "wb")  # noqa: SIM115
        self._out = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6, mtime=0) \
            if self.fmt == "jsonl" else self._raw
        self._docs = 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one document (`record["text"]` plus metadata; text output keeps only the text)."""
        self.write_encoded(encode_record(record, self.fmt))

    def write_encoded(self, data: bytes) -> None:
        """Append one document already encoded by `encode_record` in this writer's format."""
        if self._out is None:
            self._open()
        assert self._out is not None and self._raw is not None
        self._buffer.append(data)  # written in ~1 MB pieces: one zlib call per record is 10x slower
        self._buffered += len(data)
        self._docs += 1
        if self._buffered >= self._flush_bytes:
            self._flush()
            if self._raw.tell() >= self.shard_bytes:
                self._close_shard()

    def _flush(self) -> None:
        if self._out is not None and self._buffer:
            self._out.write(b"".join(self._buffer))
        self._buffer, self._buffered = [], 0

    def _close_shard(self) -> None:
        if self._out is None or self._raw is None or self._path is None:
            return
        self._flush()
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        tmp = self._path.with_name(self._path.name + ".tmp")
        os.replace(tmp, self._path)
        self.shards.append({"file": self._path.name, "documents": self._docs, "bytes": self._path.stat().st_size,
                            "sha256": _sha256(self._path)})
        self._out = self._raw = None

    def close(self) -> list[dict[str, Any]]:
        """Finish the open shard; the list of shards written (file, documents, bytes, sha256)."""
        self._close_shard()
        return self.shards
