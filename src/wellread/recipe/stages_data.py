"""Data stages: package-docs (offline sample data), corpus build, vocabulary, packing."""

from __future__ import annotations

import json
from dataclasses import replace

from wellread.corpus.build import BuildOptions
from wellread.corpus.pack import PackOptions
from wellread.recipe.base import StageContext, StageResult
from wellread.recipe.package_docs import PackageDocsOptions, write_package_docs
from wellread.tokenizer import TokenizerTrainOptions


def run_package_docs(opts: PackageDocsOptions, ctx: StageContext) -> StageResult:
    """English prose and a topic task from the installed packages' docstrings (see `package_docs`)."""
    report = write_package_docs(ctx.out, opts.words_per_package, opts.train_per_label, opts.dev_per_label,
                                seed=opts.seed)
    words = sum(p["words"] for p in report.packages.values())
    print(f"  {words:,} words of documentation from {len(report.packages)} packages; topic task: "
          f"{report.train_examples} train / {report.dev_examples} dev sentences, labels {report.labels}")
    return StageResult(
        {"raw": str(ctx.out / "text"), "task": str(ctx.out / "topics")},
        f"{words:,} words; task {report.train_examples}/{report.dev_examples} train/dev",
        {"packages": report.packages, "labels": report.labels, "train_examples": report.train_examples,
         "dev_examples": report.dev_examples,
         "dataset": "docstrings of installed Python packages (" + ", ".join(
             f"{name} {p['version']}" for name, p in report.packages.items()) + ")"})


def run_corpus(opts: BuildOptions, ctx: StageContext) -> StageResult:
    """`corpus build` into the stage folder; details: the manifest's snapshot date, sources and counts."""
    from wellread.corpus.build import build_corpus

    inputs = ctx.inputs["inputs"]
    build = replace(opts, inputs=inputs if isinstance(inputs, list) else [inputs], out=ctx.out, overwrite=True)
    report = build_corpus(build.inputs, build)
    print(report.summary())
    manifest = json.loads((ctx.out / "manifest.json").read_text(encoding="utf-8"))
    details = {"snapshot_date": manifest["snapshot_date"], "inputs": manifest["inputs"],
               "sources": [{k: s[k] for k in ("path", "bytes", "sha256", "documents_read", "documents_kept") if k in s}
                           for s in manifest["sources"]][:50],
               "documents_read": report.documents_read, "documents_kept": report.documents_kept,
               "mb_read": round(report.bytes_read / 1e6, 2), "mb_kept": round(report.bytes_kept / 1e6, 2),
               "removed": dict(report.removed)}
    summary = (f"{report.documents_kept:,} of {report.documents_read:,} documents kept "
               f"({report.bytes_kept / 1e6:.1f} MB), snapshot {details['snapshot_date']}")
    return StageResult({"corpus": str(ctx.out)}, summary, details)


def _items(value: str | list[str]) -> list[str]:
    """An input that is one path or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def run_tokenizer(opts: TokenizerTrainOptions, ctx: StageContext) -> StageResult:
    """`train_tokenizer()` on the corpus documents into the stage folder (no progress bars)."""
    from wellread.textio import corpus_paths, read_documents
    from wellread.tokenizer import train_tokenizer

    documents = read_documents(corpus_paths(_items(ctx.inputs["corpus"])))
    tokenizer = train_tokenizer(replace(opts, out=ctx.out, quiet=True), documents)
    example = "The quick brown fox jumps over the lazy dog."
    print(f"  vocabulary of {tokenizer.vocab_size} tokens; {example!r} -> {' '.join(tokenizer.tokenize(example))}")
    return StageResult({"tokenizer": str(ctx.out)}, f"{tokenizer.vocab_size:,} WordPiece tokens",
                       {"vocab_size": tokenizer.vocab_size, "lowercase": tokenizer.lowercase})


def run_pack(opts: PackOptions, ctx: StageContext) -> StageResult:
    """`pack_corpus()` into the stage folder (no progress bar): two-segment training sequences for each max
    length, with a validation split by document hash."""
    from wellread.corpus.pack import pack_corpus

    tokenizer = ctx.inputs.get("tokenizer")
    report = pack_corpus(replace(opts, corpus=_items(ctx.inputs["corpus"]), out=ctx.out, progress=False,
                                 tokenizer=None if tokenizer is None else str(tokenizer)))
    for name, index in report.splits.items():
        print(f"  {name}: {index['sequences']:,} sequences, {index['tokens']:,} tokens")
    first = report.splits[f"len{opts.max_length[0]}/train"]
    return StageResult({"packed": str(ctx.out)},
                       f"{first['sequences']:,} training sequences ({first['tokens'] / 1e6:.2f} M tokens)",
                       {"documents": report.documents, "validation_documents": report.validation_documents,
                        "splits": report.splits})
