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
from pathlib import Path
from typing import NamedTuple

BUILD_DESCRIPTION = """\
Read raw text, normalise it, drop low-quality documents, exact and near duplicates, and write shards.

What a document is:
  text files   a blank-line-separated block (--doc-split blank-line) or one line (--doc-split line, or
               --doc-per-line); the default `auto` uses lines when the first 1,000 lines hold no blank line
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
  wellread corpus build glosses.txt --doc-per-line --min-words 3 --output-format text --out glosses
  wellread corpus build books/ --decontaminate eval/test.conll --out books-clean
"""


class Subcommand(NamedTuple):
    """One `wellread corpus <name>`: its one-line help, long description, argument setup and runner."""

    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _add_build_arguments(p: argparse.ArgumentParser) -> None:
    from wellread.corpus.clean import FilterConfig

    f = FilterConfig()
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders (read recursively) or quoted globs")
    p.add_argument("--out", required=True, type=Path, help="output folder (must be empty, or use --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace a previous build's files in --out")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="leave out files whose path or name matches GLOB (repeatable)")
    g = p.add_argument_group("input")
    g.add_argument("--format", dest="input_format", default="auto",
                   choices=["auto", "text", "jsonl", "wiki", "wet", "conll"],
                   help="input format (default: from each file's name)")
    g.add_argument("--text-field", default="text", help="JSONL field holding the text (default: %(default)s)")
    g.add_argument("--doc-split", default="auto", choices=["auto", "blank-line", "line"],
                   help="how text files are cut into documents (default: %(default)s)")
    g.add_argument("--doc-per-line", dest="doc_split", action="store_const", const="line",
                   help="same as --doc-split line")
    g = p.add_argument_group("filters (a document failing one is removed, reason in report.json)")
    g.add_argument("--min-chars", type=int, default=f.min_chars, help="default: %(default)s")
    g.add_argument("--min-words", type=int, default=f.min_words, help="default: %(default)s (Gopher: 50)")
    g.add_argument("--max-words", type=int, default=f.max_words, help="0 = no limit; default: %(default)s")
    g.add_argument("--min-alpha-ratio", type=float, default=f.min_alpha_ratio,
                   help="minimum share of letters among non-space characters; default: %(default)s")
    g.add_argument("--max-symbol-ratio", type=float, default=f.max_symbol_ratio,
                   help="maximum ('#' + ellipses) per word; default: %(default)s")
    g.add_argument("--max-dup-line-fraction", type=float, default=f.max_dup_line_fraction,
                   help="maximum share of repeated lines; default: %(default)s")
    g.add_argument("--max-dup-line-char-fraction", type=float, default=f.max_dup_line_char_fraction,
                   help="maximum share of characters in repeated lines; default: %(default)s")
    g.add_argument("--top-ngram-thresholds", default=",".join(map(str, f.top_ngram_thresholds)),
                   help="maximum character share of the most frequent 2-,3-,4-gram; default: %(default)s")
    g.add_argument("--dup-ngram-thresholds", default=",".join(map(str, f.dup_ngram_thresholds)),
                   help="maximum character share of repeated 5- to 10-grams; default: %(default)s")
    g.add_argument("--ngram-min-words", type=int, default=f.ngram_min_words,
                   help="apply the two n-gram rules from this many words on; default: %(default)s")
    g.add_argument("--min-stopword-ratio", type=float, default=f.min_stopword_ratio,
                   help="English test: minimum share of common English stopwords, 0 = off; default: %(default)s")
    g.add_argument("--decontaminate", action="append", default=[], metavar="PATH",
                   help="evaluation file(s): drop documents sharing a word n-gram with them (repeatable)")
    g.add_argument("--decontaminate-ngram", type=int, default=13, help="n for --decontaminate; default: 13")
    g = p.add_argument_group("deduplication")
    g.add_argument("--no-exact-dedup", dest="exact_dedup", action="store_false", help="keep exact duplicates")
    g.add_argument("--no-near-dedup", dest="near_dedup", action="store_false",
                   help="skip MinHash near-dedup (faster; memory then grows by only ~70 bytes per kept document)")
    g.add_argument("--near-threshold", type=float, default=0.8, help="Jaccard threshold; default: %(default)s")
    g.add_argument("--num-perm", type=int, default=128, help="MinHash permutations; default: %(default)s")
    g.add_argument("--shingle-size", type=int, default=5, help="words per shingle; default: %(default)s")
    g = p.add_argument_group("output and run")
    g.add_argument("--output-format", default="jsonl", choices=["jsonl", "text"],
                   help="gzipped JSONL or plain text shards; default: %(default)s")
    g.add_argument("--shard-size-mb", type=float, default=128.0, help="shard size on disk; default: %(default)s")
    g.add_argument("--snapshot-date", default=None, metavar="YYYY-MM-DD",
                   help="date the snapshot stands for, recorded in the manifest (default: today)")
    g.add_argument("--workers", type=int, default=0,
                   help="extra processes for normalise/filter/MinHash (~90%% of the CPU time); pays only with idle "
                        "cores; default: %(default)s (all in one process)")
    g.add_argument("--max-examples", type=int, default=20,
                   help="examples kept in report.json per problem kind; default: %(default)s")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    g.add_argument("--quiet", action="store_true", help="print only warnings and errors")


def _run_build(args: argparse.Namespace) -> int:
    from wellread.corpus.build import BuildOptions, build_corpus
    from wellread.corpus.clean import FilterConfig

    filters = FilterConfig(
        min_chars=args.min_chars, min_words=args.min_words, max_words=args.max_words,
        min_alpha_ratio=args.min_alpha_ratio, max_symbol_ratio=args.max_symbol_ratio,
        max_dup_line_fraction=args.max_dup_line_fraction, max_dup_line_char_fraction=args.max_dup_line_char_fraction,
        top_ngram_thresholds=_float_list(args.top_ngram_thresholds, "--top-ngram-thresholds"),
        dup_ngram_thresholds=_float_list(args.dup_ngram_thresholds, "--dup-ngram-thresholds"),
        ngram_min_words=args.ngram_min_words, min_stopword_ratio=args.min_stopword_ratio)
    options = BuildOptions(
        out=args.out, overwrite=args.overwrite, exclude=args.exclude, input_format=args.input_format,
        text_field=args.text_field, doc_split=args.doc_split, filters=filters, exact_dedup=args.exact_dedup,
        near_dedup=args.near_dedup, near_threshold=args.near_threshold, num_perm=args.num_perm,
        shingle_size=args.shingle_size, decontaminate=args.decontaminate,
        decontaminate_ngram=args.decontaminate_ngram, output_format=args.output_format,
        shard_size_mb=args.shard_size_mb, snapshot_date=args.snapshot_date, workers=args.workers,
        max_examples=args.max_examples, progress=args.progress and not args.quiet)
    report = build_corpus(args.inputs, options)
    summary = report.summary()
    if not args.quiet:
        print(summary)
        print(f"wrote {args.out}/report.json and manifest.json")
    elif report.problems.total():
        print(summary.splitlines()[-1], file=sys.stderr)
    return 0


def _float_list(text: str, option: str) -> tuple[float, ...]:
    from wellread.errors import DataError

    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise DataError(f"{option} must be comma-separated numbers, got {text!r}") from None


PACK_DESCRIPTION = """\
Tokenize a corpus into fixed-length, two-segment training sequences for `wellread pretrain`.

Sentences of one document are gathered up to the length budget and split at a random sentence boundary into
segments A and B (real pairs for sentence-order prediction); 10% of sequences get a shorter random length; no
sequence crosses documents. A document goes to the validation split by a hash of its text (--val-permille),
so the split is stable when the corpus is rebuilt from a newer snapshot. Output in --out: tokenizer/ (the
vocabulary, trained here with --vocab-size or copied from --tokenizer), len{L}/train and len{L}/val per
--max-length L (memory-mapped token shards with an index), pack_report.json.

Examples:
  wellread corpus pack corpus/ --vocab-size 30522 --max-length 128 512 --out packed/
  wellread corpus pack corpus/ --tokenizer bert-base-vocab/ --max-length 128 --out packed/
"""


def _add_pack_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a `corpus build` folder, *.jsonl[.gz] shards or plain text files (blank-line documents)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    vocab = p.add_mutually_exclusive_group(required=True)
    vocab.add_argument("--tokenizer", type=Path, help="an existing vocabulary (folder, vocab.txt or tokenizer.json)")
    vocab.add_argument("--vocab-size", type=int, help="train a fresh uncased WordPiece vocabulary of this size")
    p.add_argument("--min-frequency", type=int, default=2, help="for --vocab-size; default: %(default)s")
    p.add_argument("--max-length", type=int, nargs="+", default=[128],
                   help="sequence lengths to pack, e.g. 128 512 for two-phase pretraining; default: 128")
    p.add_argument("--val-permille", type=int, default=10,
                   help="documents per thousand held out for validation; default: %(default)s")
    p.add_argument("--short-seq-prob", type=float, default=0.1, help="default: %(default)s (as BERT)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def _run_pack(args: argparse.Namespace) -> int:
    from wellread.corpus.pack import corpus_paths, pack, read_documents
    from wellread.errors import DataError
    from wellread.tokenizer import Tokenizer

    paths = corpus_paths(args.inputs)
    if any(length < 8 or length > 4096 for length in args.max_length):
        raise DataError(f"--max-length values must be in 8..4096, got {args.max_length}")
    if args.tokenizer:
        tokenizer = Tokenizer.load(args.tokenizer)
    else:
        print(f"training a {args.vocab_size}-token WordPiece vocabulary on {len(paths)} file(s)")
        tokenizer = Tokenizer.train(read_documents(paths), vocab_size=args.vocab_size,
                                    min_frequency=args.min_frequency, show_progress=args.progress)
    report = pack(read_documents(paths), tokenizer, args.out, args.max_length, val_permille=args.val_permille,
                  short_seq_prob=args.short_seq_prob, seed=args.seed, progress=args.progress)
    print(f"{report.documents} documents ({report.validation_documents} held out), {report.sentences} sentences")
    for name, index in report.splits.items():
        print(f"  {name}: {index['sequences']} sequences, {index['tokens']} tokens")
    print(f"wrote {args.out} (tokenizer/, len*/train|val, pack_report.json)")
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
