"""Data stages: package-docs (offline sample data), corpus build, vocabulary, packing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from wellread.corpus.build import BuildOptions
from wellread.recipe import options as o
from wellread.recipe.base import StageContext, StageResult
from wellread.recipe.package_docs import PackageDocsOptions, write_package_docs


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


def run_tokenizer(opts: o.TokenizerOptions, ctx: StageContext) -> StageResult:
    """A fresh WordPiece vocabulary trained on the corpus documents."""
    from wellread.corpus.pack import corpus_paths, read_documents
    from wellread.tokenizer import Tokenizer

    paths = corpus_paths([ctx.inputs["corpus"]])
    tokenizer = Tokenizer.train(read_documents(paths), vocab_size=opts.vocab_size, min_frequency=opts.min_frequency,
                                lowercase=opts.lowercase, limit_alphabet=opts.limit_alphabet, show_progress=False)
    tokenizer.save(ctx.out)
    example = "The quick brown fox jumps over the lazy dog."
    print(f"  vocabulary of {tokenizer.vocab_size} tokens; {example!r} -> {' '.join(tokenizer.tokenize(example))}")
    return StageResult({"tokenizer": str(ctx.out)}, f"{tokenizer.vocab_size:,} WordPiece tokens",
                       {"vocab_size": tokenizer.vocab_size, "lowercase": tokenizer.lowercase})


def run_pack(opts: o.PackOptions, ctx: StageContext) -> StageResult:
    """Two-segment training sequences for each max length, with a validation split by document hash."""
    from wellread.corpus.pack import corpus_paths, pack, read_documents
    from wellread.tokenizer import Tokenizer

    tokenizer = Tokenizer.load(Path(ctx.inputs["tokenizer"]))
    report = pack(read_documents(corpus_paths([ctx.inputs["corpus"]])), tokenizer, ctx.out, opts.max_length,
                  val_permille=opts.val_permille, short_seq_prob=opts.short_seq_prob, seed=opts.seed, progress=False)
    for name, index in report.splits.items():
        print(f"  {name}: {index['sequences']:,} sequences, {index['tokens']:,} tokens")
    first = report.splits[f"len{opts.max_length[0]}/train"]
    return StageResult({"packed": str(ctx.out)},
                       f"{first['sequences']:,} training sequences ({first['tokens'] / 1e6:.2f} M tokens)",
                       {"documents": report.documents, "validation_documents": report.validation_documents,
                        "splits": report.splits})
