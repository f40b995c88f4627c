"""The per-document work that can run in worker processes: normalise, filter, decontaminate, digest, MinHash.

`process_batch` takes (raw text, record metadata) pairs and returns one `Outcome` each, with the output record
already encoded, so the main process only de-duplicates and writes bytes. The settings live in a module global
set by `init_worker` (the Pool initializer, or a direct call when running in-process), so a batch is the only
thing sent to a worker per task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wellread.corpus.clean import FilterConfig, QualityFilter, normalise
from wellread.corpus.dedup import LshBanding, NgramIndex, digest, minhash_signature
from wellread.corpus.writer import encode_record

__all__ = ["Outcome", "WorkerSettings", "init_worker", "process_batch"]


@dataclass
class WorkerSettings:
    """Everything `process_batch` needs to know."""

    filters: FilterConfig
    banding: LshBanding | None = None
    """Compute MinHash band keys (near dedup on) with this banding."""
    num_perm: int = 128
    shingle_size: int = 5
    contamination: NgramIndex | None = None
    output_format: str = "jsonl"


@dataclass(slots=True)
class Outcome:
    """Result for one document: `reason` is None when it passed the filters; then `record` is its encoded output
    record, `text_bytes` the UTF-8 size of its normalised text, `key` its exact-dedup digest and `bands` its
    MinHash LSH band keys (when near dedup is on)."""

    reason: str | None
    record: bytes = b""
    text_bytes: int = 0
    key: int = 0
    bands: list[int] | None = None


_STATE: tuple[WorkerSettings, QualityFilter] | None = None


def init_worker(settings: WorkerSettings) -> None:
    """Install the settings used by `process_batch` in this process."""
    global _STATE
    _STATE = (settings, QualityFilter(settings.filters))


def process_batch(items: list[tuple[str, dict[str, Any]]]) -> list[Outcome]:
    """Outcome of each (raw text, metadata of its output record), in order."""
    assert _STATE is not None, "init_worker() was not called"
    settings, quality = _STATE
    outcomes = []
    for raw, meta in items:
        text = normalise(raw)
        reason = quality.check(text)
        if reason is None and settings.contamination is not None and settings.contamination.contains_any(text):
            reason = "contaminated"
        if reason is not None:
            outcomes.append(Outcome(reason))
            continue
        bands = None
        if settings.banding is not None:
            bands = settings.banding.keys(minhash_signature(text, settings.num_perm, settings.shingle_size))
        record = encode_record({"text": text, **meta}, settings.output_format)
        outcomes.append(Outcome(None, record, len(text.encode("utf-8")), digest(text), bands))
    return outcomes
