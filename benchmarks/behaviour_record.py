"""Record (and compare) the figures of short, seeded runs of every training command: a behaviour check for
refactors of the training code.

The script writes its own small fixture data into a temporary folder (no network, no ../shared/data): a text
corpus, a GLUE-layout SST-2 folder, a SQuAD v1.1 train/dev pair and a CoNLL folder. It then runs, through the
command line (`python -m wellread.cli ...`, so the same script works whatever the internals look like), each
with a fixed --seed, --bf16 off, --no-progress and one CPU thread (OMP_NUM_THREADS=1, --threads 1):

  corpus build -> tokenizer train -> corpus pack -> pretrain (tiny preset, phases 32:60 and 64:20, SOP, WWM)
  finetune: classification (SST-2), QA (SQuAD), NER (CoNLL), each from the pretrained model
  distill --task none: general distillation of the pretrained model into a narrower student (config.json)
  distill --stage both: the SST-2 model as teacher, the general student; --eval-every 0
  lengthdrop (on the SST-2 model, LayerDrop on) -> search (--cost flops, --skip-layers, --refine, --no-save)
  search on the QA model (--cost flops), where the metric moves with the lengths kept

and collects the deterministic figures of each run: metrics (and baselines, teacher metrics), best_step, steps,
the evaluation history (its steps, `eval_steps`, and its values by step), the logged training loss by step, the
pretraining phases' and layer-distillation stages' done.json evaluation, the corpus build/pack counts, and for each
search the full model, the chosen configuration, the frontier and every evaluated configuration with its metric
and FLOPs. Floats are rounded to 6 decimals; timings, paths and speed-ups are left out.

Two things in the base code are not reproducible from the command line alone, and the script works around them:
`tokenizer train` breaks frequency ties in hash order (see Tokenizer.train), so only its size and special ids are
recorded and `corpus pack` uses a fixed word-level vocabulary written here; and the base code's `pretrain` built
its initial model before anything seeded torch, so it is run through the CLI's entry point (`wellread.cli:main`)
with torch seeded first with --seed (SEEDED_MAIN); `pretrain` now seeds its initial model with --seed itself,
which draws the same weights.

  PYTHONPATH=src python benchmarks/behaviour_record.py --out docs/behaviour/before.json
  PYTHONPATH=src python benchmarks/behaviour_record.py --compare docs/behaviour/before.json

--compare records again and prints every difference with the earlier record; it exits 1 when a figure differs
by more than --rtol (relative, default 1e-4) or a figure is missing on one side. One difference is expected and
reported but not counted: the evaluation steps (`eval_steps`) of the distill --stage both run, which passes
--eval-every 0: the base code reads that as "every epoch", fine-tuning's meaning (to be used everywhere) is
"only at the end". That run's history values are compared at the steps both records have, its final metrics as
usual (its prediction stage is one epoch long, so the model it keeps does not depend on when it evaluates).

Figures are reproducible on one machine (one thread, fp32); another CPU may differ in the last digits of float
figures, so compare on the machine that made the record (docs/behaviour/README.md says which).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SEED = 7
COMMON = ("--seed", str(SEED), "--bf16", "off", "--no-progress")
RTOL = 1e-4
ATOL = 1e-6  # figures are rounded to 6 decimals
EXPECTED_RUNS = {"distill_both"}
EXPECTED_KEYS = {"eval_steps"}
"""Figures whose differences are expected (the eval_every change) in the runs that pass --eval-every 0 to distill;
their `eval_history` is compared only at the steps both records have."""
SKIP_KEYS_PART = ("seconds", "per_s", "latency", "speedup", "ms_per", "time")
"""Keys holding timings (left out of every record)."""

# --- fixture data ---------------------------------------------------------------------------------------------

POSITIVE = ["a great film", "wonderful acting and a fine story", "i loved it", "superb , moving and funny",
            "the best movie of the year", "delightful and clever", "a warm , generous picture"]
NEGATIVE = ["a dull film", "terrible acting and a thin story", "i hated it", "boring , slow and silly",
            "the worst movie of the year", "tedious and clumsy", "a cold , lifeless picture"]
CONTEXT_WORDS = ["the", "river", "flows", "past", "old", "mills", "and", "quiet", "farms", "toward", "distant",
                 "sea", "village", "bridge", "stone", "harbour", "boats", "morning", "fog", "lies", "over"]
NAMES = ["nemo", "ahab", "ishmael", "flint", "silver", "morgan", "drake", "hawkins"]
PEOPLE = [("Thabo", "Mbeki"), ("Anna", "Berg"), ("Luis", "Ortega"), ("Mei", "Chen"), ("Omar", "Haddad")]
PLACES = ["Durban", "Lisbon", "Kyoto", "Quito", "Oslo", "Nairobi"]
ORGS = [("Acme", "Corp"), ("Globex", "Bank"), ("Initech", "Labs")]
FILLER = ["the", "a", "of", "and", "to", "in", "is", "was", "it", "that", "with", "for", "on", "as", "by", "at",
          "people", "city", "time", "year", "day", "world", "story", "film", "ship", "captain", "who", "steered",
          "visited", "hired", "hosts", "yesterday", "cup", "river", "sea", "morning", "house", "garden", "walked",
          "talked", "about", "after", "before", "under", "near", "small", "large", "new", "old", "good", "bad"]


def corpus_text(rng: random.Random, docs: int = 240) -> str:
    """Blank-line separated documents whose words cover the task fixtures' words."""
    words = FILLER + CONTEXT_WORDS + NAMES + [w.lower() for p in PEOPLE for w in p] + [p.lower() for p in PLACES] \
        + [w.lower() for o in ORGS for w in o] + " ".join(POSITIVE + NEGATIVE).split()
    out = []
    for _ in range(docs):
        sentences = []
        for _ in range(rng.randint(3, 8)):
            kind = rng.random()
            if kind < 0.25:
                phrase = rng.choice(POSITIVE + NEGATIVE)
                s = f"{phrase} , {' '.join(rng.choice(words) for _ in range(rng.randint(4, 9)))}"
            elif kind < 0.4:
                s = f"the ship was steered by captain {rng.choice(NAMES)} past the {rng.choice(CONTEXT_WORDS)}"
            elif kind < 0.55:
                first, last = rng.choice(PEOPLE)
                s = f"{first} {last} visited {rng.choice(PLACES)} with {' '.join(rng.choice(ORGS))} people"
            else:
                s = " ".join(rng.choice(words) for _ in range(rng.randint(6, 16)))
            sentences.append(s.capitalize() + ".")
        out.append(" ".join(sentences))
    return "\n\n".join(out) + "\n"


def fixed_vocabulary(folder: Path, texts: list[str]) -> Path:
    """A word-level uncased vocabulary of every word and punctuation mark in `texts`, plus each character and its
    ## form, in a fixed order: `tokenizer train` is not bit-reproducible (the tokenizers library breaks frequency
    ties in hash order, see Tokenizer.train), so the pipeline packs with this one."""
    words, chars = set(), set()
    for text in texts:
        for word in re.findall(r"\w+|[^\w\s]", text.lower()):
            words.add(word)
            chars.update(word)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(chars), *sorted(f"##{c}" for c in chars),
              *sorted(words - chars)]
    return write(folder / "vocab.txt", "".join(f"{t}\n" for t in tokens))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def sst2(root: Path, rng: random.Random) -> Path:
    """GLUE-layout SST-2: 64 training and 32 dev sentences of two phrases each (balanced; a few dev labels flipped,
    so that accuracy stays below 100)."""
    for split, n in (("train", 64), ("dev", 32)):
        rows = []
        for i in range(n):
            label = i % 2
            text = " , ".join(rng.sample(POSITIVE if label else NEGATIVE, 2))
            if rng.random() < 0.3:
                text = f"{text} , {rng.choice(FILLER)} {rng.choice(FILLER)}"
            rows.append((text, 1 - label if split == "dev" and rng.random() < 0.15 else label))
        write(root / "SST-2" / f"{split}.tsv", "sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in rows))
    return root / "SST-2"


def squad(path: Path, rng: random.Random, n: int) -> Path:
    """SQuAD v1.1: contexts long enough for two or three 64-token windows, the answer early or late."""
    paragraphs = []
    for i in range(n):
        filler = " ".join(rng.choice(CONTEXT_WORDS) for _ in range(rng.randint(20, 50)))
        answer = f"captain {rng.choice(NAMES)}"
        sentence = f"the ship was steered by {answer} ."
        context = f"{filler} {sentence} {filler}" if i % 2 else f"{sentence} {filler} {filler}"
        paragraphs.append({"context": context, "qas": [{
            "id": f"q{i}", "question": "who steered the ship ?",
            "answers": [{"text": answer, "answer_start": context.index(sentence) + len("the ship was steered by ")}]}]})
    return write(path, json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}))


def conll_sentence(rng: random.Random) -> list[tuple[str, str]]:
    first, last = rng.choice(PEOPLE)
    org = rng.choice(ORGS)
    shapes = [
        [(first, "B-PER"), (last, "I-PER"), ("visited", "O"), (rng.choice(PLACES), "B-LOC"), (".", "O")],
        [(org[0], "B-ORG"), (org[1], "I-ORG"), ("hired", "O"), (last, "B-PER"), ("yesterday", "O"), (".", "O")],
        [(rng.choice(PLACES), "B-LOC"), ("hosts", "O"), ("the", "O"), (org[0], "B-MISC"), ("Cup", "I-MISC")],
    ]
    return rng.choice(shapes)


def conll(root: Path, rng: random.Random) -> Path:
    """CoNLL-2003 layout: 48 training and 16 validation sentences."""
    for name, n in (("train.txt", 48), ("valid.txt", 16)):
        blocks = ["-DOCSTART- -X- -X- O\n"]
        for _ in range(n):
            blocks.append("".join(f"{w} NNP B-NP {t}\n" for w, t in conll_sentence(rng)))
        write(root / "conll" / name, "\n".join(blocks))
    return root / "conll"


# --- running ---------------------------------------------------------------------------------------------------


SEEDED_MAIN = "import sys, torch; torch.manual_seed(int(sys.argv[1])); from wellread.cli import main; " \
    "sys.exit(main(sys.argv[2:]))"
"""The CLI's entry point (`wellread = wellread.cli:main`) with torch's global generator seeded first: the base
`wellread pretrain` builds its initial model from the preset before anything seeds torch, so --seed alone does
not fix the initial weights (two runs differ). Seeded with the same value as --seed, so that a pretrain that
seeds its initial model with --seed (torch.manual_seed(seed) before building it) gives the same weights."""


class Runner:
    """Runs `python -m wellread.cli ...` in `root` with one CPU thread; keeps each command's time and output."""

    def __init__(self, root: Path, verbose: bool) -> None:
        self.root, self.verbose = root, verbose
        self.times: dict[str, float] = {}
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
                    "PYTHONHASHSEED": "0"}
        # the commands run in `root`: a relative PYTHONPATH (PYTHONPATH=src) must still name the same folders
        paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        self.env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths if p)
        found = subprocess.run([sys.executable, "-c", "import wellread; print(wellread.__file__)"], cwd=root,
                               env=self.env, capture_output=True, text=True).stdout.strip()
        spec = importlib.util.find_spec("wellread")
        here = spec.origin if spec else None
        if not found or here is None or Path(found).resolve() != Path(here).resolve():
            raise SystemExit(f"the commands would import wellread from {found or 'nowhere'}, this script from {here}")

    def __call__(self, name: str, *args: str | Path, seed_torch: bool = False) -> None:
        entry = ["-c", SEEDED_MAIN, str(SEED)] if seed_torch else ["-m", "wellread.cli"]
        cmd = [sys.executable, *entry, *map(str, args)]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=self.root, env=self.env, capture_output=True, text=True)
        self.times[name] = time.perf_counter() - start
        shown = "wellread " + " ".join(map(str, args))
        if self.verbose or done.returncode:
            print(f"$ {shown}\n{done.stdout}{done.stderr}", file=sys.stderr)
        if done.returncode:
            raise SystemExit(f"{name} failed (exit {done.returncode}): {shown}")
        print(f"{name}: {self.times[name]:.1f} s", file=sys.stderr, flush=True)


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def clean(value: Any) -> Any:
    """Floats rounded to 6 decimals; timing keys dropped."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if not any(part in k for part in SKIP_KEYS_PART)}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def history(records: list[dict]) -> dict[str, Any]:
    """An evaluation history as its steps and, per step, its values."""
    return {"eval_steps": [r["step"] for r in records],
            "eval_history": {str(r["step"]): clean({k: v for k, v in r.items() if k not in ("step", "type")})
                             for r in records}}


def log_records(folder: Path, kind: str) -> list[dict]:
    lines = (folder / "log.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r.get("type") == kind]


def train_loss(folder: Path) -> dict[str, float]:
    """The logged training loss by step (log.jsonl): the training trajectory, where accuracies are too coarse."""
    return {str(r["step"]): clean(r["loss"]) for r in log_records(folder, "train")}


def stage_figures(folder: Path) -> dict[str, Any]:
    """A run without results.json (a pretraining phase, layer distillation): done.json and log.jsonl."""
    done = read(folder / "done.json")
    return {"steps": done["steps"], "final_eval": clean(done["eval"]), **history(log_records(folder, "eval")),
            "train_loss": train_loss(folder)}


def task_figures(folder: Path, *extra: str) -> dict[str, Any]:
    """The figures of a finetune / distill / lengthdrop results.json, and the training loss of its log."""
    results = read(folder / "results.json")
    keys = ("select_metric", "labels", "steps", "best_step", "train_examples", "train_features", "metrics",
            "baselines", *extra)
    return {**{k: clean(results[k]) for k in keys if k in results}, **history(results["history"]),
            "train_loss": train_loss(folder)}


def candidate(c: dict[str, Any]) -> dict[str, Any]:
    return clean({"keep": c["keep"], "skip": c["skip"], "metric": c["metric"], "flops": c["flops"]})


def search_figures(folder: Path) -> dict[str, Any]:
    """frontier.json without timings: the full model, the choice, the frontier and every configuration evaluated."""
    frontier = read(folder / "frontier.json")
    return {"metric": frontier["metric"], "full": candidate(frontier["full"]), "chosen": candidate(frontier["chosen"]),
            "metric_drop": clean(frontier["metric_drop"]), "flops_ratio": clean(frontier["flops_ratio"]),
            "frontier": [candidate(c) for c in frontier["frontier"]],
            "evaluated": [candidate(c) for c in frontier["evaluated"]]}


def record(work: Path, verbose: bool = False) -> tuple[dict[str, Any], dict[str, float]]:
    """Write the fixtures into `work`, run every command, return (the figures, seconds per command)."""
    rng = random.Random(SEED)
    run = Runner(work, verbose)
    write(work / "raw" / "docs.txt", corpus_text(rng))
    glue = sst2(work / "glue", rng)
    qa = [f"train={squad(work / 'squad' / 'train.json', rng, 32)}",
          f"dev={squad(work / 'squad' / 'dev.json', rng, 16)}"]
    ner = conll(work, rng)
    figures: dict[str, Any] = {}

    # corpus -> vocabulary -> packed sequences -> pretraining
    run("corpus build", "corpus", "build", "raw", "--out", "corpus", "--output-format", "text",
        "--snapshot-date", "2026-12-01", "--no-progress", "--quiet")
    run("tokenizer train", "tokenizer", "train", "corpus", "--out", "tok", "--vocab-size", "400",
        "--min-frequency", "1", "--quiet")
    vocab = (work / "tok" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    figures["tokenizer"] = {"vocab_size": len(vocab), "special_ids": {t: vocab.index(t) for t in
                                                                      ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}}
    texts = [(work / "raw" / "docs.txt").read_text(encoding="utf-8"), *(p.read_text(encoding="utf-8") for p in
             sorted([*glue.glob("*.tsv"), *(work / "squad").glob("*.json"), *ner.glob("*.txt")]))]
    fixed_vocabulary(work / "vocab", texts)
    run("corpus pack", "corpus", "pack", "corpus", "--tokenizer", "vocab/vocab.txt", "--max-length", "32", "64",
        "--val-permille", "100", "--seed", str(SEED), "--out", "packed", "--no-progress")
    report, pack_report = read(work / "corpus" / "report.json"), read(work / "packed" / "pack_report.json")
    figures["corpus"] = {
        "build": clean({k: report[k] for k in ("documents_read", "documents_kept", "documents_removed", "removed",
                                               "bytes_read", "chars_read", "bytes_kept")}),
        "shards": [{k: shard[k] for k in ("documents", "bytes", "sha256")} for shard in report["shards"]],
        "pack": clean({k: pack_report[k] for k in ("documents", "validation_documents", "sentences", "splits")}),
    }
    run("pretrain", "pretrain", "--data", "packed", "--out", "pretrained", "--model", "tiny", "--phase", "32:60",
        "--phase", "64:20", "--batch-size", "16", "--lr", "1e-3", "--warmup", "0.1", "--eval-every", "20",
        "--eval-sequences", "32", "--masking", "whole-word", "--sop", "--save-every", "0", "--threads", "1", *COMMON,
        seed_torch=True)
    figures["pretrain"] = {phase.name: stage_figures(phase) for phase in sorted((work / "pretrained").iterdir())
                           if phase.name.startswith("phase")}

    # fine-tuning, each task from the pretrained model
    train = ("--batch-size", "16", "--save-every", "0", *COMMON)
    small_batches = ("--batch-size", "4", "--save-every", "0", *COMMON)
    run("finetune classification", "finetune", "--model", "pretrained", "--task", "sst2", "--data", glue,
        "--out", "sst2", "--epochs", "10", "--lr", "2e-3", "--max-length", "32", *train)
    figures["finetune_classification"] = task_figures(work / "sst2")
    run("finetune qa", "finetune", "--model", "pretrained", "--task", "squad", "--data", *qa, "--out", "qa",
        "--epochs", "2", "--lr", "1e-3", "--max-length", "64", "--doc-stride", "16", *train)
    figures["finetune_qa"] = task_figures(work / "qa")
    run("finetune ner", "finetune", "--model", "pretrained", "--task", "ner", "--data", ner, "--out", "ner",
        "--epochs", "3", "--lr", "2e-3", "--max-length", "32", *train)
    figures["finetune_ner"] = task_figures(work / "ner")

    # distillation: general (raw text, a narrower student with the teacher's vocabulary; --eval-every N, which
    # means the same before and after), then both stages on SST-2 with --eval-every 0 (the base code: every epoch;
    # after the eval_every change: only at the end), the prediction stage one epoch long so that its kept model
    # does not depend on when it evaluates
    write(work / "student.json", json.dumps({"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2,
                                             "num_attention_heads": 2, "intermediate_size": 128,
                                             "max_position_embeddings": 128, "vocab_size": 400}))
    run("distill general", "distill", "--teacher", "pretrained", "--student", "student.json", "--task", "none",
        "--data", "packed", "--out", "general", "--max-length", "64", "--max-steps", "12", "--eval-every", "4",
        "--lr", "1e-3", *train)
    figures["distill_general"] = stage_figures(work / "general")
    run("distill both stages", "distill", "--teacher", "sst2", "--student", "general", "--task", "sst2",
        "--data", glue, "--out", "distilled", "--stage", "both", "--intermediate-epochs", "2", "--epochs", "1",
        "--eval-every", "0", "--cache-teacher", "on", "--temperature", "2", "--alpha", "0.5", "--lr", "2e-3",
        "--max-length", "32", *small_batches)
    figures["distill_both"] = {"intermediate": stage_figures(work / "distilled" / "intermediate"),
                               "prediction": task_figures(work / "distilled", "teacher_metrics", "transfer_examples")}

    # dynamic sequence length: LengthDrop (with LayerDrop) on the SST-2 model, then a FLOPs search
    run("lengthdrop", "lengthdrop", "--model", "sst2", "--task", "sst2", "--data", glue, "--out", "sst2-ld",
        "--epochs", "2", "--lr", "5e-4", "--length-drop-prob", "0.3", "--sub-models", "2", "--layerdrop", "0.25",
        "--max-length", "32", *train)
    figures["lengthdrop"] = task_figures(work / "sst2-ld")
    run("search", "search", "--model", "sst2-ld", "--task", "sst2", "--data", glue, "--cost", "flops",
        "--skip-layers", "--iterations", "3", "--population", "6", "--mutations", "3", "--crossovers", "3",
        "--max-drop", "5", "--grid", "10", "--refine", "4", "--batch-size", "8", "--repeats", "1",
        "--latency-examples", "8", "--threads", "1", "--max-length", "32", "--seed", str(SEED), "--no-save",
        "--out", "search", "--no-progress")
    figures["search"] = search_figures(work / "search")
    # and on the fine-tuned QA model (no LengthDrop), where the metric moves with the lengths kept
    run("search qa", "search", "--model", "qa", "--task", "squad", "--data", qa[1], "--cost", "flops",
        "--iterations", "2", "--population", "6", "--mutations", "3", "--crossovers", "3", "--max-drop", "6.5",
        "--grid", "10", "--batch-size", "8", "--repeats", "1", "--latency-examples", "8", "--threads", "1",
        "--max-length", "64", "--doc-stride", "16", "--seed", str(SEED), "--no-save", "--out", "search-qa",
        "--no-progress")
    figures["search_qa"] = search_figures(work / "search-qa")
    return figures, run.times


# --- comparing -------------------------------------------------------------------------------------------------


def differences(old: Any, new: Any, path: str, rtol: float, expected: bool) -> list[tuple[str, str, bool]]:
    """(path, what differs, whether the difference is expected) for every figure that differs."""
    name = path.rsplit(".", 1)[-1]
    if expected and name in EXPECTED_KEYS:
        return [] if old == new else [(path, f"{old} -> {new}", True)]
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        lenient = expected and name == "eval_history"  # only the steps both records have are compared
        for key in sorted(set(old) | set(new), key=str):
            if key not in new or key not in old:
                if not lenient:
                    found.append((f"{path}.{key}", "only before" if key in old else "only after", False))
                continue
            found += differences(old[key], new[key], f"{path}.{key}", rtol, expected)
        return found
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [(path, f"{len(old)} items -> {len(new)} items: {old} -> {new}", False)]
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True))
                for d in differences(a, b, f"{path}[{i}]", rtol, expected)]
    numbers = (int, float)
    if isinstance(old, numbers) and isinstance(new, numbers) and not isinstance(old, bool) \
            and not isinstance(new, bool):
        if math.isclose(old, new, rel_tol=rtol, abs_tol=ATOL):
            return []
        rel = abs(old - new) / max(abs(old), abs(new))
        return [(path, f"{old} -> {new} (relative {rel:.2e})", False)]
    return [] if old == new else [(path, f"{old!r} -> {new!r}", False)]


def compare(old: dict[str, Any], new: dict[str, Any], rtol: float) -> int:
    """Print every difference between two records' figures; 1 when an unexpected one is found, else 0."""
    found = []
    for run in sorted(set(old["figures"]) | set(new["figures"])):
        if run not in old["figures"] or run not in new["figures"]:
            found.append((run, "run only " + ("before" if run in old["figures"] else "after"), False))
            continue
        found += differences(old["figures"][run], new["figures"][run], run, rtol, run in EXPECTED_RUNS)
    for path, what, expected in found:
        print(f"{'expected (eval_every change)' if expected else 'DIFFERS'}: {path}: {what}")
    failures = sum(not expected for _, _, expected in found)
    total = sum(1 for _ in leaves(new["figures"]))
    print(f"{total} figures compared (relative tolerance {rtol:g}): {failures} differ"
          + (f", {len(found) - failures} expected differences" if len(found) > failures else ""))
    return 1 if failures else 0


def leaves(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


# --- main ------------------------------------------------------------------------------------------------------


def source_commit() -> str | None:
    """The git commit of the imported wellread's checkout (with "+dirty" when it has changes), if any."""
    spec = importlib.util.find_spec("wellread")
    if spec is None or spec.origin is None:
        raise SystemExit("wellread is not importable: set PYTHONPATH=src or install it")
    folder = Path(spec.origin).parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="write the record here (default: print it)")
    parser.add_argument("--compare", type=Path, metavar="FILE", help="compare with an earlier record; exit 1 when a "
                        "figure differs")
    parser.add_argument("--rtol", type=float, default=RTOL, help=f"relative tolerance (default {RTOL:g})")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a temporary folder)")
    parser.add_argument("--verbose", action="store_true", help="print every command's output")
    args = parser.parse_args()
    spec = importlib.util.find_spec("wellread")
    print(f"wellread from {Path(spec.origin).parent if spec and spec.origin else '?'}", file=sys.stderr)
    start = time.perf_counter()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures, times = record(args.keep.resolve(), args.verbose)
    else:
        with tempfile.TemporaryDirectory(prefix="wellread-behaviour-") as work:
            figures, times = record(Path(work), args.verbose)
    import torch  # only for the record's metadata (the commands ran in subprocesses)

    result = {"meta": {"source_commit": source_commit(), "seed": SEED, "torch": torch.__version__,
                       "python": platform.python_version(), "machine": platform.machine(),
                       "seconds": round(time.perf_counter() - start, 1),
                       "seconds_per_command": {k: round(v, 1) for k, v in times.items()}},
              "figures": figures}
    text = json.dumps(result, indent=1) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"record written to {args.out} ({result['meta']['seconds']} s)", file=sys.stderr)
    elif not args.compare:
        sys.stdout.write(text)
    if args.compare:
        return compare(read(args.compare), result, args.rtol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
