"""What a corpus build did: documents and bytes read, kept and removed per reason, per source, and the input
problems met on the way (with file, line and a few examples), saved as `report.json`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PROBLEM_KINDS", "Problems", "Report", "SourceStats"]

PROBLEM_KINDS: dict[str, str] = {
    "bad_utf8": "lines with invalid UTF-8 (decoded with U+FFFD replacement characters, document kept)",
    "truncated": "compressed file ended early (what was read before is kept)",
    "bad_json": "JSONL lines that are not JSON (document counted as malformed)",
    "missing_field": "JSONL records without the text field or with a non-string one (counted as malformed)",
    "xml_error": "XML that stopped parsing (pages before the error are kept)",
    "bad_record": "WARC records with a broken header (counted as malformed)",
    "unreadable": "files that could not be opened",
}
"""Problem kind -> what it means and what happened to the data."""


@dataclass
class Problems:
    """Counts of input problems per kind, plus the first `max_examples` of each kind with file, line and message."""

    max_examples: int = 20
    counts: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, file: str, line: int | None, message: str, offset: int | None = None) -> None:
        """Record one problem of `kind` (a key of PROBLEM_KINDS) at `file`:`line` (byte `offset` when known)."""
        self.counts[kind] += 1
        if self.counts[kind] <= self.max_examples:
            example = {"kind": kind, "file": file, "line": line, "message": message}
            if offset is not None:
                example["offset"] = offset
            self.examples.append(example)

    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class SourceStats:
    """Per-file numbers."""

    path: str
    format: str
    size: int
    documents_read: int = 0
    documents_kept: int = 0
    bytes_kept: int = 0
    removed: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    doc_split: str | None = None
    dates: list[str] = field(default_factory=list)
    """[earliest, latest] document date (WET/Wiki), empty when the format has none."""

    def see_date(self, date: str | None) -> None:
        if not date:
            return
        if not self.dates:
            self.dates = [date, date]
        else:
            self.dates = [min(self.dates[0], date), max(self.dates[1], date)]

    def to_dict(self) -> dict[str, Any]:
        out = {"path": self.path, "format": self.format, "bytes": self.size, "documents_read": self.documents_read,
               "documents_kept": self.documents_kept, "bytes_kept": self.bytes_kept, "removed": dict(self.removed),
               "problems": dict(self.problems)}
        if self.doc_split:
            out["doc_split"] = self.doc_split
        if self.dates:
            out["dates"] = {"earliest": self.dates[0], "latest": self.dates[1]}
        return out


@dataclass
class Report:
    """Totals of a build. Invariant: documents_read == documents_kept + sum(removed.values())."""

    sources: list[SourceStats] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    bytes_read: int = 0
    documents_read: int = 0
    documents_kept: int = 0
    chars_read: int = 0
    bytes_kept: int = 0
    removed: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    shards: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def count_removed(self, source: SourceStats, reason: str) -> None:
        self.removed[reason] += 1
        source.removed[reason] += 1

    def count_kept(self, source: SourceStats, nbytes: int) -> None:
        self.documents_kept += 1
        self.bytes_kept += nbytes
        source.documents_kept += 1
        source.bytes_kept += nbytes

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready report (report.json)."""
        mb = self.bytes_read / 1e6
        return {
            "documents_read": self.documents_read,
            "documents_kept": self.documents_kept,
            "documents_removed": sum(self.removed.values()),
            "removed": dict(sorted(self.removed.items(), key=lambda kv: -kv[1])),
            "bytes_read": self.bytes_read,
            "chars_read": self.chars_read,
            "bytes_kept": self.bytes_kept,
            "seconds": round(self.seconds, 2),
            "mb_per_second": round(mb / self.seconds, 2) if self.seconds else None,
            "problems": {"counts": dict(self.problems.counts),
                         "meaning": {k: PROBLEM_KINDS[k] for k in self.problems.counts},
                         "examples": self.problems.examples},
            "sources": [s.to_dict() for s in self.sources],
            "shards": self.shards,
            "settings": self.settings,
        }

    def summary(self) -> str:
        """A few human-readable lines: totals, removals per reason, per source, and a warning on problems."""
        pct = lambda n, d: f"{100 * n / d:5.1f}%" if d else "  -  "
        lines = [f"read {self.documents_read:,} documents ({self.bytes_read / 1e6:,.1f} MB) from "
                 f"{len(self.sources)} files in {self.seconds:,.1f} s "
                 f"({self.bytes_read / 1e6 / max(self.seconds, 1e-9):,.2f} MB/s)",
                 f"kept {self.documents_kept:,} documents ({pct(self.documents_kept, self.documents_read).strip()}, "
                 f"{self.bytes_kept / 1e6:,.1f} MB of text) in {len(self.shards)} shard(s)"]
        for reason, n in sorted(self.removed.items(), key=lambda kv: -kv[1]):
            lines.append(f"  removed {reason:<16} {n:>10,}  {pct(n, self.documents_read)}")
        lines.append("per source:")
        for s in self.sources:
            top = ", ".join(f"{r} {n:,}" for r, n in s.removed.most_common(3))
            lines.append(f"  {s.path}: read {s.documents_read:,}, kept {s.documents_kept:,}"
                         + (f" (removed: {top})" if top else ""))
        if self.problems.total():
            kinds = ", ".join(f"{k} {n:,}" for k, n in self.problems.counts.items())
            lines.append(f"WARNING: {self.problems.total():,} input problem(s): {kinds}; "
                         "see 'problems' in report.json for files and lines")
        return "\n".join(lines)
