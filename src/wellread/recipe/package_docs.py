"""Offline English data for the quickstart, from the documentation that installed Python packages ship.

Every wellread install brings numpy, scipy, torch (with sympy and networkx), scikit-learn and matplotlib, whose
docstrings hold a few million words of English prose. `write_package_docs` reads them (parsing the source, not
importing it) and writes:

  text/<package>.txt   the pretraining text: one docstring per document (blank-line separated), one prose
                       paragraph per line, with code examples, parameter lists and reST markup left out
  topics/train.csv     a topic-classification task (columns text, label): a sentence of documentation ->
  topics/dev.csv       the library area it comes from (plotting, deep-learning, graphs, ...), with the library's
                       own name removed from the text. Dev sentences come from source files whose text is kept
                       out of text/ entirely, so pretraining never sees them.
  sources.json         packages, versions, files read, words and examples written
"""

from __future__ import annotations

import ast
import csv
import importlib.metadata
import importlib.util
import json
import random
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wellread.corpus.pack import split_sentences
from wellread.errors import DataError
from wellread.options import option, positive

TOPICS: dict[str, str] = {
    "matplotlib": "plotting", "torch": "deep-learning", "networkx": "graphs", "sympy": "symbolic-math",
    "sklearn": "machine-learning",
}
"""Package -> topic label of the classification task."""
TEXT_ONLY: tuple[str, ...] = ("numpy", "scipy")
"""Packages whose prose goes into the pretraining text only."""
DISTRIBUTIONS = {"sklearn": "scikit-learn"}

_ROLE = re.compile(r":[\w:.-]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_*")
_MARKUP = re.compile(r"``|`|\*\*|(?<!\w)\*(?=\w)|(?<=\w)\*(?!\w)|\|")
_FIELD = re.compile(r"^\s*[\w*.\[\], ]+\s*(\([^)]*\))?\s*:(\s|$)")
_SKIP = (">>>", "...:", "---", "===", "~~~", "::", "..", "http", "$", "\\", "{", "}", "=>", "->", "[source]")


@dataclass(kw_only=True)
class PackageDocsOptions:
    """The recipe's package-docs stage: English prose and a topic-classification task from installed packages'
    docstrings (offline)."""

    words_per_package: int = option(120_000, help="words of prose kept per package")
    train_per_label: int = option(1200, help="training sentences per topic")
    dev_per_label: int = option(150, help="dev sentences per topic")
    seed: int = option(0, help="random seed (which files and sentences)")

    def check(self) -> list[tuple[str, str]]:
        return positive(self, "words_per_package", "train_per_label", "dev_per_label")


@dataclass
class PackageDocsReport:
    """What `write_package_docs` read and wrote."""

    packages: dict[str, dict] = field(default_factory=dict)
    train_examples: int = 0
    dev_examples: int = 0
    labels: list[str] = field(default_factory=list)


def prose_paragraphs(docstring: str, min_words: int = 8) -> list[str]:
    """The prose paragraphs of a docstring, each on one line, reST roles and markup removed; code, doctests,
    parameter/field lists, tables and directives are dropped."""
    out = []
    for block in re.split(r"\n\s*\n", docstring):
        lines = [line.strip() for line in block.strip().splitlines()]
        if not lines or any(line.startswith(_SKIP) or _FIELD.match(line) for line in lines):
            continue
        if any(marker in block for marker in (">>>", "::", "    ")) and not block.startswith(" "):
            continue
        text = _MARKUP.sub("", _LINK.sub(r"\1", _ROLE.sub(r"\1", " ".join(lines))))
        text = re.sub(r"\s+", " ", text).strip()
        words = text.split()
        letters = sum(c.isalpha() for c in text)
        if len(words) >= min_words and letters > 0.7 * len(text.replace(" ", "")) and text[-1:] in ".!?:)":
            out.append(text)
    return out


def docstrings(path: Path) -> Iterator[str]:
    """Every module, class and function docstring in a Python source file (nothing when it does not parse)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield doc


def source_files(package: str, seed: int = 0) -> list[Path]:
    """The package's non-test .py files, in a seeded random order (so a word cap samples the whole package)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise DataError(f"package {package!r} is not installed: it is needed for the quickstart's data")
    root = Path(spec.origin).parent
    files = sorted(p for p in root.rglob("*.py") if not {"tests", "test", "testing"} & set(p.relative_to(root).parts))
    random.Random(seed).shuffle(files)
    return files


def _held_out(path: Path, dev_permille: int) -> bool:
    return zlib.crc32(path.name.encode() + str(path.parent.name).encode()) % 1000 < dev_permille


def _without_name(sentence: str, package: str) -> str:
    names = {package, "plt", "nx", "scikit-learn", "scikit", "pyplot", "mpl"}
    kept = [w for w in sentence.split() if not any(n in w.lower() for n in names)]
    return " ".join(kept)


def write_package_docs(out: Path, words_per_package: int = 120_000, train_per_label: int = 1200,
                       dev_per_label: int = 150, dev_permille: int = 150, seed: int = 0,
                       packages: Sequence[str] = (*TEXT_ONLY, *TOPICS)) -> PackageDocsReport:
    """Write text/, topics/ and sources.json into `out` (see the module docstring)."""
    out = Path(out)
    (out / "text").mkdir(parents=True, exist_ok=True)
    (out / "topics").mkdir(parents=True, exist_ok=True)
    report = PackageDocsReport(labels=[TOPICS[p] for p in packages if p in TOPICS])
    rng = random.Random(seed)
    rows: dict[str, list[tuple[str, str]]] = {"train": [], "dev": []}
    for package in packages:
        words = files_read = 0
        sentences: dict[str, list[str]] = {"train": [], "dev": []}
        with open(out / "text" / f"{package}.txt", "w", encoding="utf-8") as text:
            for path in source_files(package, seed):
                if words >= words_per_package:
                    break
                files_read += 1
                split = "dev" if _held_out(path, dev_permille) else "train"
                for doc in docstrings(path):
                    paragraphs = prose_paragraphs(doc)
                    if not paragraphs:
                        continue
                    if package in TOPICS:
                        sentences[split].extend(s for p in paragraphs for s in split_sentences(p))
                    if split == "train":
                        text.write("\n".join(paragraphs) + "\n\n")
                        words += sum(len(p.split()) for p in paragraphs)
        version = importlib.metadata.version(DISTRIBUTIONS.get(package, package))
        report.packages[package] = {"version": version, "files_read": files_read, "words": words}
        if package in TOPICS:
            for split, limit in (("train", train_per_label), ("dev", dev_per_label)):
                clean = [_without_name(s, package) for s in dict.fromkeys(sentences[split])]
                clean = [s for s in clean if 6 <= len(s.split()) <= 60]
                rng.shuffle(clean)
                rows[split].extend((s, TOPICS[package]) for s in clean[:limit])
                report.packages[package][f"{split}_examples"] = min(limit, len(clean))
    for split, examples in rows.items():
        rng.shuffle(examples)
        with open(out / "topics" / f"{split}.csv", "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(examples)
        setattr(report, f"{split}_examples", len(examples))
    (out / "sources.json").write_text(json.dumps(report.__dict__, indent=2) + "\n", encoding="utf-8")
    return report
