"""`build_corpus`: raw files -> clean, de-duplicated, sharded corpus with `report.json` and `manifest.json`.

Data flow (streaming; memory = a few batches in flight + the dedup indexes, which grow with KEPT documents):

    main process:  read + decode (readers) -> batches ------------------> exact dedup -> near dedup -> shards
    workers:                                   normalise, filter, digest, MinHash   (order kept)

With `workers=0` the middle step runs in the main process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing as mp
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tqdm import tqdm

from wellread.corpus.clean import FILTERS, FilterConfig
from wellread.corpus.dedup import ExactDedup, LshBanding, NearDedup, NgramIndex
from wellread.corpus.manifest import manifest_dict, write_json
from wellread.corpus.pipeline import Outcome, WorkerSettings, init_worker, process_batch
from wellread.corpus.readers import DOC_SPLITS, Document, ReadContext, read_conll, read_jsonl, read_text, read_wet
from wellread.corpus.report import Problems, Report, SourceStats
from wellread.corpus.sources import FORMATS, SourceFile, detect_format, discover, open_source
from wellread.corpus.wiki import read_wiki
from wellread.corpus.writer import OUTPUT_FORMATS, ShardWriter
from wellread.errors import DataError
from wellread.options import narrow, option

__all__ = ["READERS", "BuildOptions", "build_corpus", "read_documents"]

READERS: dict[str, Callable[[BinaryIO, ReadContext], Iterator[Document]]] = {
    "text": read_text, "jsonl": read_jsonl, "wiki": read_wiki, "wet": read_wet, "conll": read_conll,
}
"""Input format -> reader."""

_BATCH_CHARS = 1 << 20
INPUT, DEDUP, RUN = "input", "deduplication", "output and run"
_OWN_PREFIXES = ("part-", "report.json", "manifest.json")  # with their .tmp files


@dataclass(kw_only=True)
class BuildOptions(FilterConfig):
    """Options of `corpus build` (CLI and recipe stage): the inputs, the reading, the quality filters, dedup and
    the output."""

    inputs: list[str] | None = option(None, positional=True, cli_required=True, metavar="INPUT",
                                      help="files, folders (read recursively) or quoted globs (a recipe: default the "
                                           "previous stage's raw text)")
    out: Path | None = option(None, cli_required=True, help="output folder (must be empty, or use --overwrite)")
    overwrite: bool = option(False, help="replace a previous build's files in --out")
    exclude: list[str] = option([], append=True, metavar="GLOB",
                                help="leave out files whose path or name matches GLOB (repeatable)")
    input_format: str = option("auto", flag="--format", group=INPUT, choices=("auto", *FORMATS),
                               help="input format (default: from each file's name)")
    text_field: str = option("text", group=INPUT, help="JSONL field holding the text")
    doc_split: str = option("auto", group=INPUT, choices=DOC_SPLITS, help="how text files are cut into documents")
    decontaminate: list[str] = option([], append=True, group=FILTERS, metavar="PATH",
                                      help="evaluation file(s): drop documents sharing a word n-gram with them "
                                           "(repeatable)")
    decontaminate_ngram: int = option(13, group=FILTERS, help="n for --decontaminate")
    exact_dedup: bool = option(True, group=DEDUP, help="keep exact duplicates")
    near_dedup: bool = option(True, group=DEDUP, help="skip MinHash near-dedup (faster; memory then grows by only "
                                                      "~70 bytes per kept document)")
    near_threshold: float = option(0.8, group=DEDUP, help="Jaccard threshold")
    num_perm: int = option(128, group=DEDUP, help="MinHash permutations")
    shingle_size: int = option(5, group=DEDUP, help="words per shingle")
    output_format: str = option("jsonl", group=RUN, choices=tuple(OUTPUT_FORMATS),
                                help="gzipped JSONL or plain text shards")
    shard_size_mb: float = option(128.0, group=RUN, help="shard size on disk")
    snapshot_date: str | None = option(None, group=RUN, metavar="YYYY-MM-DD",
                                       help="date the snapshot stands for, recorded in the manifest (default: today)")
    workers: int = option(0, group=RUN, help="extra processes for normalise/filter/MinHash (~90%% of the CPU time); "
                                             "pays only with idle cores; measured on a shared 2-core machine: -13%% "
                                             "to +18%% wall time with 2 workers (default 0: all in one process)")
    batch_docs: int = option(1000, cli=False, recipe=False, help="documents per batch handed to a worker")
    max_examples: int = option(20, group=RUN, help="examples kept in report.json per problem kind")
    progress: bool = option(True, group=RUN, help="no progress bar")
    quiet: bool = option(False, group=RUN, help="print only warnings and errors")

    @property
    def filters(self) -> FilterConfig:
        """The quality rules' thresholds."""
        return narrow(FilterConfig, self)

    def validate(self) -> None:
        """Raise DataError naming every bad value."""
        errors = FilterConfig.validate(self)
        if self.input_format not in ("auto", *FORMATS):
            errors.append(f"--format must be auto or one of {FORMATS}, got {self.input_format!r}")
        if self.doc_split not in DOC_SPLITS:
            errors.append(f"--doc-split must be one of {DOC_SPLITS}, got {self.doc_split!r}")
        if self.output_format not in OUTPUT_FORMATS:
            errors.append(f"--output-format must be one of {tuple(OUTPUT_FORMATS)}, got {self.output_format!r}")
        if not 0.0 < self.near_threshold <= 1.0:
            errors.append(f"--near-threshold must be in (0, 1], got {self.near_threshold}")
        if self.num_perm < 16:
            errors.append(f"--num-perm must be >= 16, got {self.num_perm}")
        for name in ("shingle_size", "decontaminate_ngram", "batch_docs"):
            if getattr(self, name) < 1:
                errors.append(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.shard_size_mb <= 0:
            errors.append(f"--shard-size-mb must be > 0, got {self.shard_size_mb}")
        if self.workers < 0:
            errors.append(f"--workers must be >= 0, got {self.workers}")
        if self.max_examples < 0:
            errors.append(f"--max-examples must be >= 0, got {self.max_examples}")
        if self.snapshot_date is not None:
            try:
                dt.date.fromisoformat(self.snapshot_date)
            except ValueError:
                errors.append(f"--snapshot-date must be YYYY-MM-DD, got {self.snapshot_date!r}")
        if errors:
            raise DataError("; ".join(errors))


def _prepare_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise DataError(f"--out {out} is not empty; pass --overwrite to replace a previous build there")
        own = [p for p in out.iterdir() if p.name.startswith(_OWN_PREFIXES)]
        others = sorted(p.name for p in out.iterdir() if p not in own)
        if others:
            raise DataError(f"--overwrite only replaces a previous build's files, and {out} also holds "
                            f"{others[:5]}: choose an empty or new folder")
        for p in own:
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def read_documents(source: SourceFile, fmt: str, ctx: ReadContext,
                   on_bytes: Callable[[int], None] | None = None) -> Iterator[Document]:
    """Documents of one file; sets `source.sha256` when done (the whole file is hashed even if parsing stopped).
    An unreadable file is reported as a problem and yields nothing."""
    try:
        stream, counter = open_source(source.path)
    except OSError as err:
        ctx.problem("unreadable", None, f"cannot open: {err}")
        return
    ctx.offset = lambda: counter.bytes_read
    try:
        for doc in READERS[fmt](stream, ctx):
            yield doc
            if on_bytes is not None:
                on_bytes(counter.bytes_read)
    finally:
        try:
            counter.drain()
        except OSError as err:
            ctx.problem("unreadable", None, f"read error while hashing: {err}")
        source.sha256 = counter.sha256.hexdigest()
        if on_bytes is not None:
            on_bytes(counter.bytes_read)
        with contextlib.suppress(OSError, EOFError):
            stream.close()


class _Processor:
    """Runs `process_batch` over batches, in a Pool of `workers` processes (results in input order, at most a few
    batches in flight so reading never runs ahead of processing) or in-process when workers == 0."""

    def __init__(self, settings: WorkerSettings, workers: int, paths: list[str]) -> None:
        self.workers = workers
        self.paths = paths
        self.pool = None
        if workers > 0:
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            self.pool = mp.get_context(method).Pool(workers, initializer=init_worker, initargs=(settings,))
        else:
            init_worker(settings)

    def map(self, batches: Iterator[list[tuple[int, Document]]]
            ) -> Iterator[tuple[list[tuple[int, Document]], list[Outcome]]]:
        if self.pool is None:
            for batch in batches:
                yield batch, process_batch(_items(batch, self.paths))
            return
        pending: deque = deque()
        for batch in batches:
            pending.append((batch, self.pool.apply_async(process_batch, (_items(batch, self.paths),))))
            if len(pending) > 2 * self.workers:
                done, result = pending.popleft()
                yield done, result.get()
        while pending:
            done, result = pending.popleft()
            yield done, result.get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


def _items(batch: list[tuple[int, Document]], paths: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """What process_batch needs of each document: its text and the metadata of its output record (malformed
    documents are sent as empty text, never kept)."""
    items = []
    for i, doc in batch:
        meta: dict[str, Any] = {"source": paths[i], "date": doc.date}
        if doc.url:
            meta["url"] = doc.url
        if doc.title:
            meta["title"] = doc.title
        items.append(("" if doc.malformed else doc.text, meta))
    return items


def _batches(docs: Iterator[tuple[int, Document]], max_docs: int) -> Iterator[list[tuple[int, Document]]]:
    batch: list[tuple[int, Document]] = []
    chars = 0
    for item in docs:
        batch.append(item)
        chars += len(item[1].text)
        if len(batch) >= max_docs or chars >= _BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _contamination_index(paths: Sequence[str], n: int, problems: Problems) -> NgramIndex | None:
    if not paths:
        return None
    index = NgramIndex(n)
    for source in discover(paths):
        ctx = ReadContext(name=str(source.path), problems=problems)
        for doc in read_documents(source, detect_format(source.path), ctx):
            if not doc.malformed:
                index.add(doc.text)
    return index


def build_corpus(inputs: Sequence[str], options: BuildOptions) -> Report:
    """Build a corpus from `inputs` (files, folders, globs) into `options.out`; returns the report (also saved as
    report.json next to manifest.json and the shards). Raises DataError for bad inputs or options; problems
    inside the input files are reported, never raised."""
    options.validate()
    start = time.perf_counter()
    out = Path(options.out).resolve()
    sources = [s for s in discover(inputs, options.exclude) if out not in s.path.parents]
    if not sources:
        raise DataError(f"every input file is inside the output folder {out}")
    _prepare_output(out, options.overwrite)
    snapshot = options.snapshot_date or dt.date.today().isoformat()
    problems = Problems(options.max_examples)
    contamination = _contamination_index(options.decontaminate, options.decontaminate_ngram, problems)
    formats = [options.input_format if options.input_format != "auto" else detect_format(s.path) for s in sources]
    report = Report(sources=[SourceStats(str(s.path), f, s.size) for s, f in zip(sources, formats, strict=True)],
                    problems=problems)
    banding = LshBanding(options.near_threshold, options.num_perm) if options.near_dedup else None
    settings = WorkerSettings(options.filters, banding, options.num_perm, options.shingle_size, contamination,
                              options.output_format)
    exact = ExactDedup() if options.exact_dedup else None
    near = NearDedup() if options.near_dedup else None
    writer = ShardWriter(out, options.output_format, int(options.shard_size_mb * (1 << 20)))
    # the pool forks before tqdm starts its monitor thread (fork safety)
    processor = _Processor(settings, options.workers, [str(s.path) for s in sources])
    bar = tqdm(total=sum(s.size for s in sources), unit="B", unit_scale=True, desc="corpus build",
               disable=not options.progress or options.quiet, file=sys.stderr)
    done_bytes = [0, 0]  # [bytes of finished files, bytes of the current file]

    def documents() -> Iterator[tuple[int, Document]]:
        for i, (source, fmt) in enumerate(zip(sources, formats, strict=True)):
            stats = report.sources[i]
            ctx = ReadContext(name=str(source.path), problems=problems, text_field=options.text_field,
                              doc_split=options.doc_split, problem_counts=stats.problems)
            done_bytes[1] = 0
            for doc in read_documents(source, fmt, ctx, on_bytes=lambda n: done_bytes.__setitem__(1, n)):
                yield i, doc
            done_bytes[0] += done_bytes[1]
            done_bytes[1] = 0
            stats.doc_split = ctx.used_split

    try:
        for batch, outcomes in processor.map(_batches(documents(), options.batch_docs)):
            for (i, doc), outcome in zip(batch, outcomes, strict=True):
                _account(report, report.sources[i], doc, outcome, exact, near, writer)
            bar.n = done_bytes[0] + done_bytes[1]
            bar.refresh()
    finally:
        bar.close()
        processor.close()
    report.shards = writer.close()
    report.bytes_read = done_bytes[0]
    report.seconds = time.perf_counter() - start
    report.settings = {"workers": options.workers, "lsh_bands_rows": [banding.b, banding.r] if banding else None,
                       "peak_rss_mb": _peak_rss_mb(), "contamination_ngrams": len(contamination or ())}
    write_json(out / "report.json", report.to_dict())
    write_json(out / "manifest.json", manifest_dict(inputs, sources, report, options, snapshot))
    return report


def _account(report: Report, stats: SourceStats, doc: Document, outcome: Outcome, exact: ExactDedup | None,
             near: NearDedup | None, writer: ShardWriter) -> None:
    """Count one document and write it if it survives exact and near de-duplication."""
    report.documents_read += 1
    report.chars_read += len(doc.text)
    stats.documents_read += 1
    stats.see_date(doc.date)
    if doc.malformed:
        report.count_removed(stats, "malformed")
        return
    if outcome.reason is not None:
        report.count_removed(stats, outcome.reason)
        return
    if exact is not None and outcome.key in exact:
        report.count_removed(stats, "exact_duplicate")
        return
    if near is not None and outcome.bands is not None and near.seen_or_add(outcome.bands):
        report.count_removed(stats, "near_duplicate")
        return
    if exact is not None:
        exact.add(outcome.key)
    writer.write_encoded(outcome.record)
    report.count_kept(stats, outcome.text_bytes)


def _peak_rss_mb() -> dict[str, float]:
    """Peak resident memory (MB) of this process and of its finished children (the workers)."""
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / (1 << 20)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale
    return {"main": round(own, 1), "workers": round(children, 1)}
