"""Build pretraining corpora from raw text dumps, so a compact model can be re-trained on a fresh snapshot.

Subcommands:
  pack    a built corpus -> vocabulary + packed training sequences (see `wellread corpus pack --help`)
  build   raw files (text, JSONL, Wikipedia XML, Common Crawl WET; .gz/.bz2/.zst) -> clean, de-duplicated,
          sharded JSONL or text, with report.json and manifest.json

Examples:
  wellread corpus build dumps/ --out corpus/2024-06 --snapshot-date 2024-06-01
  wellread corpus build 'crawl/*.warc.wet.gz' enwiki-pages-articles.xml.bz2 --out corpus/cc
  wellread corpus build data.jsonl --text-field content --no-near-dedup --out corpus/fast
  wellread corpus build --help            (every option, with its default)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NamedTuple

from wellread.options import add_arguments as add_options
from wellread.options import from_args

BUILD_DESCRIPTION = """\
Read raw text, normalise it, drop low-quality documents, exact and near duplicates, and write shards.

What a document is:
  text files   a blank-line-separated block (--doc-split blank-line) or one line (--doc-split line, or
               --doc-split line); the default `auto` uses lines when the first 1,000 lines hold no blank line
  .jsonl       one record per line, text in --text-field (date/timestamp and url fields are kept)
  .xml         a MediaWiki dump: one article (ns 0, not a redirect), wikitext markup stripped, title first
  .wet/.warc   a Common Crawl WET `conversion` record, with its WARC-Target-URI and WARC-Date
  .conll       tokens (first column) joined into sentences; -DOCSTART- separates documents (else one per
               sentence). Annotated sets are usually evaluation data: --exclude them, and pass their test
               splits to --decontaminate instead. --format overrides detection by file name.
  .gz .bz2 .zst are decompressed on the fly.

Pipeline (in this order; the first failing rule is the removal reason in report.json):
  normalise    Unicode NFC, control characters removed, whitespace collapsed, empty lines dropped
  filters      too_short, too_long, alpha_ratio, symbol_ratio, duplicate_lines, top_ngram, duplicate_ngram
               (Gopher-style rules), not_english (share of common English stopwords), contaminated
               (shares a word 13-gram with a --decontaminate file)
  dedup        exact_duplicate (64-bit digest of the normalised text), near_duplicate (MinHash LSH over word
               5-gram shingles, 128 permutations, Jaccard >= --near-threshold, via datasketch)

Memory stays flat as the input grows, except for the dedup indexes, which grow with the number of KEPT
documents: ~70 bytes each for exact dedup, ~0.6 kB each for near dedup (0.8 kB per kept document for both,
measured); --no-near-dedup drops the near-dedup index.

Output in --out: part-00000.jsonl.gz ... (records {"text", "source", "date", ["url"|"title"]}) or part-*.txt
(documents separated by a blank line), report.json (documents and bytes read, kept, removed per reason and per
source, input problems with file and line) and manifest.json (sources with size, mtime, sha256 and dates,
options, wellread version, snapshot date), written last: a folder with a manifest is a complete build.
Malformed input (bad UTF-8, truncated archives, broken JSON lines or WARC records) never stops the run: it is
counted in report.json with examples, and a warning is printed at the end.

Examples:
  wellread corpus build /data/corpus --exclude '*/brown_pos/*' --out /tmp/corpus
  wellread corpus build 'cc/**/*.wet.gz' --out cc-2024-06 --snapshot-date 2024-06-01 --workers 4
  wellread corpus build glosses.txt --doc-split line --min-words 3 --output-format text --out glosses
  wellread corpus build books/ --decontaminate eval/test.conll --out books-clean
"""


class Subcommand(NamedTuple):
    """One `wellread corpus <name>`: its one-line help, long description, argument setup and runner."""

    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _add_build_arguments(p: argparse.ArgumentParser) -> None:
    from wellread.corpus.build import BuildOptions

    add_options(p, BuildOptions)


def _run_build(args: argparse.Namespace) -> int:
    from wellread.corpus.build import BuildOptions, build_corpus

    options = from_args(BuildOptions, args)
    report = build_corpus(options.inputs, options)
    summary = report.summary()
    if not options.quiet:
        print(summary)
        print(f"wrote {options.out}/report.json and manifest.json")
    elif report.problems.total():
        print(summary.splitlines()[-1], file=sys.stderr)
    return 0


PACK_DESCRIPTION = """\
Tokenize a corpus into fixed-length, two-segment training sequences for `wellread pretrain`.

Sentences of one document are gathered up to the length budget and split at a random sentence boundary into
segments A and B (real pairs for sentence-order prediction); 10% of sequences get a shorter random length; no
sequence crosses documents unless --across-documents (then consecutive documents share a sequence, [SEP]
between them, attention not blocked; the A/B cut stays inside one document). A document goes to the
validation split by a hash of its text (--val-permille), so the split is stable when the corpus is rebuilt
from a newer snapshot. Output in --out: tokenizer/ (the vocabulary, trained here with --vocab-size or copied
from --tokenizer), len{L}/train and len{L}/val per --max-length L (memory-mapped token shards with an
index), pack_report.json (with each split's fill rate, real tokens / (sequences x max length), and the
tokens truncated).

Examples:
  wellread corpus pack corpus/ --vocab-size 30522 --max-length 128 512 --out packed/
  wellread corpus pack corpus/ --tokenizer bert-base-vocab/ --max-length 128 --out packed/
  wellread corpus pack corpus/ --tokenizer bert-base-vocab/ --max-length 128 --across-documents --out packed/
"""


def _add_pack_arguments(p: argparse.ArgumentParser) -> None:
    from wellread.corpus.pack import PackOptions

    add_options(p, PackOptions)


def _run_pack(args: argparse.Namespace) -> int:
    from wellread.corpus.pack import PackOptions, pack_corpus

    options = from_args(PackOptions, args)
    report = pack_corpus(options)
    print(f"{report.documents} documents ({report.validation_documents} held out), {report.sentences} sentences")
    for name, index in report.splits.items():
        fill = report.fill[name]
        print(f"  {name}: {index['sequences']} sequences, {index['tokens']} tokens, fill {fill['fill_rate']:.1%} of "
              f"{index['max_length']}, {fill['truncated']} tokens truncated")
    print(f"wrote {options.out} (tokenizer/, len*/train|val, pack_report.json)")
    return 0


SUBCOMMANDS: dict[str, Subcommand] = {
    "build": Subcommand("raw dumps -> clean, de-duplicated, sharded corpus + report + manifest",
                        BUILD_DESCRIPTION, _add_build_arguments, _run_build),
    "pack": Subcommand("corpus -> WordPiece vocab + fixed-length two-segment sequences for pretraining",
                       PACK_DESCRIPTION, _add_pack_arguments, _run_pack),
}
"""`wellread corpus <name>` -> Subcommand. Add an entry here to add a subcommand (e.g. `pack`)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="corpus_command", metavar="SUBCOMMAND", required=True)
    for name, command in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=command.help, description=command.description,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(sp)
        sp.set_defaults(_corpus_run=command.run)


def run(args: argparse.Namespace) -> int:
    return args._corpus_run(args)
