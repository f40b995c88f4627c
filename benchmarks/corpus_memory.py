"""Peak memory and throughput of `wellread corpus build` on synthetic corpora of S and 10*S megabytes.

Streaming means the peak memory of a 10x larger input should stay close to that of the small one; only the
dedup indexes grow, with the number of kept documents. Each document is random English-like text from its own
seed (so none are duplicates and all are kept: the worst case for the indexes), written as 5 MB text files.

Every build runs in its own subprocess (`python -m wellread.cli corpus build ...`) behind a small wrapper that
reads the subprocess's peak RSS from getrusage(RUSAGE_CHILDREN); with --workers > 0 that is the largest single
process (main or a worker), not their sum. "idle CLI" is the peak RSS of `wellread corpus --help`, i.e. the cost
of importing the CLI (torch included), so "growth" is what the build itself added.

    python benchmarks/corpus_memory.py                      # S = 5 MB, 10*S = 50 MB, near dedup on and off
    python benchmarks/corpus_memory.py --size-mb 2 --workers 0 2
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WRAPPER = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")
_FILE_MB = 5


def _vocabulary(seed: int = 0, size: int = 3000) -> list[str]:
    rng = random.Random(seed)
    letters = "etaoinshrdlcumwfgypbvk"
    words = {"".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(size)}
    return sorted(words)


_STOPWORDS = ["the", "of", "and", "to", "a", "in", "that", "is", "was", "he", "for", "it", "with", "as", "his", "on",
              "be", "at", "by", "had", "not", "are", "but", "from", "or", "have", "an", "they", "which", "one"]


def document(seed: int, vocabulary: list[str]) -> str:
    """Random English-like text of 200-800 words from its own seed: about 40% stopwords, 10-20 word sentences."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(rng.randint(15, 55)):
        words = [rng.choice(_STOPWORDS) if rng.random() < 0.4 else rng.choice(vocabulary)
                 for _ in range(rng.randint(10, 20))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def make_corpus(folder: Path, megabytes: float, first_seed: int) -> tuple[int, int]:
    """Write about `megabytes` MB of documents (blank-line separated) into 5 MB files; (documents, bytes)."""
    folder.mkdir(parents=True)
    vocabulary = _vocabulary()
    target, total, docs, seed = int(megabytes * 1e6), 0, 0, first_seed
    part = 0
    while total < target:
        size = 0
        with open(folder / f"part{part:03d}.txt", "w", encoding="utf-8") as f:
            while size < _FILE_MB * 1e6 and total + size < target:
                text = document(seed, vocabulary) + "\n\n"
                f.write(text)
                size += len(text)
                seed += 1
                docs += 1
        total += size
        part += 1
    return docs, total


def peak_rss_mb(argv: list[str]) -> tuple[float, float]:
    """(peak RSS in MB of the command run in a fresh wrapper process, wall seconds)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-2000:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=5.0, help="S, the small corpus (default: 5)")
    parser.add_argument("--factor", type=int, default=10, help="the large corpus is factor * S (default: 10)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0], help="--workers values to run (default: 0)")
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora and outputs")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wellread-corpus-bench-"))
    cli = [sys.executable, "-m", "wellread.cli"]
    try:
        idle, _ = peak_rss_mb([*cli, "corpus", "--help"])
        corpora = {}
        for name, mb, seed in (("S", args.size_mb, 0), (f"{args.factor}S", args.size_mb * args.factor, 10**7)):
            corpora[name] = (root / name, *make_corpus(root / name, mb, seed))
        rows = []
        for near in (False, True):
            for workers in args.workers:
                for name, (folder, docs, nbytes) in corpora.items():
                    out = root / f"out-{name}-{near}-{workers}"
                    argv = [*cli, "corpus", "build", str(folder), "--out", str(out), "--quiet", "--no-progress",
                            "--workers", str(workers), *([] if near else ["--no-near-dedup"])]
                    rss, seconds = peak_rss_mb(argv)
                    report = json.loads((out / "report.json").read_text())
                    rows.append({"corpus": name, "mb": nbytes / 1e6, "docs": docs, "kept": report["documents_kept"],
                                 "near": near, "workers": workers, "seconds": seconds,
                                 "build_seconds": report["seconds"], "rss": rss, "growth": rss - idle})
                    shutil.rmtree(out, ignore_errors=not args.keep)
        print(f"idle CLI (`wellread corpus --help`) peak RSS: {idle:.0f} MB\n")
        print("| corpus | input MB | docs kept | near dedup | workers | wall s | MB/s (build) | peak RSS MB "
              "| growth over idle CLI MB |")
        print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['corpus']} | {r['mb']:.1f} | {r['kept']:,} | {'on' if r['near'] else 'off'} | "
                  f"{r['workers']} | {r['seconds']:.1f} | {r['mb'] / r['build_seconds']:.2f} | {r['rss']:.0f} | "
                  f"{r['growth']:.0f} |")
        print()
        for near in (False, True):
            for workers in args.workers:
                small, large = (r for r in rows if r["near"] == near and r["workers"] == workers)
                per_doc = (large["growth"] - small["growth"]) * 1e6 / max(large["kept"] - small["kept"], 1)
                print(f"near dedup {'on ' if near else 'off'}, workers {workers}: peak RSS {args.factor}S/S = "
                      f"{large['rss'] / small['rss']:.2f}, growth {args.factor}S/S = "
                      f"{large['growth'] / max(small['growth'], 1e-9):.2f}, "
                      f"~{per_doc:,.0f} bytes per extra kept document")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")


if __name__ == "__main__":
    main()
