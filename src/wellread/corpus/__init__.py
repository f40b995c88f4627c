"""Corpus building for pretraining: raw dumps -> clean, de-duplicated, sharded text (`wellread corpus build`).

Streaming in constant memory apart from the dedup indexes (which grow with the number of kept documents), with
a report of what was removed and why, and a manifest of the sources for reproducible snapshots.

    from wellread.corpus import BuildOptions, build_corpus
    report = build_corpus(["dumps/*.wet.gz"], BuildOptions(out=Path("corpus-2024-06")))
    print(report.summary())
"""

from wellread.corpus.build import BuildOptions, build_corpus
from wellread.corpus.clean import FILTER_REASONS, FilterConfig, QualityFilter, normalise
from wellread.corpus.dedup import ExactDedup, NearDedup, NgramIndex, minhash_signature
from wellread.corpus.readers import Document
from wellread.corpus.report import Report
from wellread.corpus.wikitext import strip_wikitext

__all__ = [
    "FILTER_REASONS", "BuildOptions", "Document", "ExactDedup", "FilterConfig", "NearDedup", "NgramIndex",
    "QualityFilter", "Report", "build_corpus", "minhash_signature", "normalise", "strip_wikitext",
]
