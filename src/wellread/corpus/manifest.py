"""`manifest.json`: what a corpus snapshot was built from and how, written last (its presence marks a complete
build): sources with size, mtime, sha256 and document dates, the options, the wellread version, the snapshot
date and the shards."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import wellread
from wellread.corpus.report import Report
from wellread.corpus.sources import SourceFile

__all__ = ["manifest_dict", "write_json"]


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def manifest_dict(inputs: Sequence[str], sources: Sequence[SourceFile], report: Report, options: Any,
                  snapshot_date: str) -> dict[str, Any]:
    """The manifest of a finished build (`options` is the BuildOptions dataclass)."""
    stats = {s.path: s for s in report.sources}
    listed = []
    for src in sources:
        entry: dict[str, Any] = {"path": str(src.path), "bytes": src.size,
                                 "mtime": dt.datetime.fromtimestamp(src.mtime, dt.timezone.utc).isoformat(),
                                 "sha256": src.sha256}
        st = stats.get(str(src.path))
        if st is not None:
            entry.update(format=st.format, documents_read=st.documents_read, documents_kept=st.documents_kept)
            if st.dates:
                entry["dates"] = {"earliest": st.dates[0], "latest": st.dates[1]}
        listed.append(entry)
    return {
        "wellread_version": wellread.__version__,
        "snapshot_date": snapshot_date,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "inputs": list(inputs),
        "options": _jsonable(options),
        "sources": listed,
        "documents_kept": report.documents_kept,
        "shards": report.shards,
        "report": "report.json",
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as indented JSON through a temporary file, so `path` is never half-written."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
