"""From `--task` and `--data` to examples: which reader, which files, which labels.

Task names: the GLUE and SICK tasks of `wellread.tasks.specs` ("sst2", "MNLI", "sick-r", ...), "squad" (SQuAD
v1.1 or v2.0 JSON, the version read from the data), "squad2" (v2.0: no-answer predictions allowed), "ner"
(CoNLL files, BIO tags, entity-level scores), "pos" (CoNLL files, any tag set, token accuracy) and "custom" (the
user's CSV/TSV/JSONL with `--text-column`, `--text-pair-column`, `--label-column`, `--regression`).

`--data` is a folder or files. A folder is searched for each split's usual file names (GLUE/SICK: the task's
files in the folder or its task sub-folder; SQuAD: train-v2.0.json, train-v1.1.json, train.json, ...; CoNLL:
train.txt, valid.txt/dev.txt, test.txt; custom: train.csv/.tsv/.jsonl, dev.*/validation.*, test.*). Files
are given as `SPLIT=FILE` (`train=a.csv dev=b.csv`) or bare, in the order of the splits the command needs
(finetune: train, dev; evaluate: the evaluated split). A missing file is an error naming what was looked for.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wellread.errors import DataError
from wellread.tasks import (
    GLUE_TASKS,
    TASKS,
    TaggedSentence,
    TaskSpec,
    UnknownTaskError,
    collect_labels,
    load_custom,
    read_conll,
    read_squad,
    read_task_file,
    tag_labels,
    task_file,
)
from wellread.tasks.common import MAX_LISTED, BadRows
from wellread.tasks.qa import squad_version

QA_TASKS = ("squad", "squad2")
TAGGING_TASKS = ("ner", "pos")
TASK_NAMES = (*TASKS, *QA_TASKS, *TAGGING_TASKS, "custom")
ALIASES = {"squad1": "squad", "squad11": "squad", "qa": "squad", "squadv2": "squad2", "squad20": "squad2",
           "conll": "ner", "conll2003": "ner"}

FILE_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "qa": {"train": ("train-v2.0.json", "train-v1.1.json", "train.json"),
           "dev": ("dev-v2.0.json", "dev-v1.1.json", "dev.json", "validation.json"),
           "test": ("test-v2.0.json", "test-v1.1.json", "test.json")},
    "tagging": {"train": ("train.txt", "train.conll"), "dev": ("valid.txt", "dev.txt", "dev.conll", "valid.conll"),
                "test": ("test.txt", "test.conll")},
    "custom": {split: tuple(f"{stem}.{ext}" for stem in stems for ext in ("csv", "tsv", "jsonl"))
               for split, stems in (("train", ("train",)), ("dev", ("dev", "validation", "valid")),
                                    ("test", ("test",)))},
}


@dataclass
class CustomColumns:
    """Columns of the user's own CSV/TSV/JSONL files."""

    text: str = "text"
    text_pair: str | None = None
    label: str = "label"
    regression: bool = False


@dataclass
class TaskData:
    """A task's examples, labels and where they came from.

    `evals` maps an evaluation-set name to its examples; GLUE/SICK sets are named as `glue_metrics` expects
    ("mnli" = matched dev, "mnli-mm" = mismatched dev), other tasks use their task name. `splits` maps an
    evaluation-set name to the split it was read from ("dev", "dev_mm", "test", ...), which logs show.
    """

    name: str
    family: str  # "classification", "qa" or "tagging"
    train: list[Any]
    evals: dict[str, list[Any]]
    labels: list[str]
    regression: bool = False
    spec: TaskSpec | None = None
    files: dict[str, str] = field(default_factory=dict)
    version: str = "1.1"  # SQuAD: "1.1" or "2.0"
    scheme: str = "iob2"  # tagging: BIO ("iob2") or any tag set ("none")
    splits: dict[str, str] = field(default_factory=dict)
    skipped_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Split -> the bad rows `skip_bad_rows` dropped from its file (file, count, first lines), for results.json."""

    def describe(self) -> str:
        """One line: the task and its example counts per split ("stsb: train 5749, dev 1500"; MNLI's dev sets
        are dev_matched and dev_mismatched), and the bad rows skipped."""
        sizes = ", ".join(f"{split_label(self.name, self.splits[name]) if name in self.splits else name} {len(ex)}"
                          for name, ex in self.evals.items())
        skipped = ", ".join(f"{s['rows']} in {split}" for split, s in self.skipped_rows.items())
        return f"{self.name}: train {len(self.train)}, {sizes}" + (f" (bad rows skipped: {skipped})" if skipped else "")


def canonical_task(name: str) -> str:
    """The canonical task name for a spelling ("SST-2" -> "sst2"); UnknownTaskError lists the known ones."""
    key = name.lower().replace("-", "").replace("_", "").replace(".", "").replace(" ", "")
    key = ALIASES.get(key, key)
    if key in (*QA_TASKS, *TAGGING_TASKS, "custom"):
        return key
    from wellread.tasks import get_task

    try:
        return get_task(name).name
    except UnknownTaskError:
        raise UnknownTaskError(f"unknown task {name!r}; known tasks: {', '.join(TASK_NAMES)}") from None


def family_of(task: str) -> str:
    """"qa", "tagging" or "classification" for a canonical task name."""
    return "qa" if task in QA_TASKS else "tagging" if task in TAGGING_TASKS else "classification"


def eval_splits(task: str, split: str = "dev") -> list[str]:
    """The files an evaluation of `split` reads: MNLI's dev is matched plus mismatched."""
    return [split, f"{split}_mm"] if task == "mnli" and split in ("dev", "test") else [split]


def split_label(task: str, split: str) -> str:
    """How logs name a split: itself, except MNLI's pairs (dev_matched, dev_mismatched, test_matched, ...)."""
    if task != "mnli" or split not in ("dev", "dev_mm", "test", "test_mm"):
        return split
    return f"{split.removesuffix('_mm')}_{'mismatched' if split.endswith('_mm') else 'matched'}"


def resolve_files(task: str, data: Sequence[str | Path], splits: Sequence[str],
                  optional: Sequence[str] = ()) -> dict[str, Path]:
    """Split -> file for `splits` (all required) and `optional` splits (when found) from `--data` items."""
    explicit: dict[str, Path] = {}
    bare: list[Path] = []
    for item in data:
        text = str(item)
        split, sep, path = text.partition("=")
        if sep and split in ("train", "dev", "dev_mm", "test", "test_mm"):
            explicit[split] = Path(path)
        else:
            bare.append(Path(text))
    folder = bare[0] if len(bare) == 1 and bare[0].is_dir() else None
    if folder is None:
        free = [s for s in splits if s not in explicit]
        if len(bare) > len(free):
            raise DataError(f"{len(bare)} data files given for the splits {', '.join(free) or '(none left)'}; "
                            "name them as SPLIT=FILE (train=..., dev=...)")
        explicit.update(zip(free, bare, strict=False))
    found: dict[str, Path] = {}
    for split in [*splits, *optional]:
        if split in explicit:
            path = explicit[split]
            if not path.is_file():
                raise DataError(f"the {split} file {path} does not exist")
            found[split] = path
        elif folder is not None:
            path = _find_in_folder(task, folder, split, required=split in splits)
            if path is not None:
                found[split] = path
        elif split in splits:
            raise DataError(f"no {split} file for {task}: give a data folder, or {split}=FILE in --data")
    return found


def _find_in_folder(task: str, folder: Path, split: str, required: bool) -> Path | None:
    family = family_of(task)
    if family == "classification" and task != "custom":
        try:
            return task_file(task, folder, split)
        except DataError:
            if required:
                raise
            return None
    names = FILE_NAMES["custom" if task == "custom" else family].get(split, ())
    for name in names:
        if (folder / name).is_file():
            return folder / name
    if required:
        raise DataError(f"no {split} file for {task} in {folder}; looked for {', '.join(names)} "
                        f"(or pass {split}=FILE in --data)")
    return None


def subset(items: list[Any], limit: int | None, seed: int = 0) -> list[Any]:
    """At most `limit` items: a seeded random sample, kept in file order (all of them when limit is None)."""
    if not limit or limit >= len(items):
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def read_split(task: str, path: Path, split: str, columns: CustomColumns, labels: Sequence[str] | None = None,
               scheme: str | None = None, skip_bad_rows: bool = False,
               skipped: list[BadRows] | None = None) -> list[Any]:
    """The examples of one file: `Example`s, `QAExample`s or `TaggedSentence`s. `labels`: the only labels a
    custom file may have (GLUE/SICK files: the task's own); rows dropped by `skip_bad_rows` go to `skipped`."""
    family = family_of(task)
    if family == "qa":
        return read_squad(path)
    if family == "tagging":
        return read_conll(path, scheme=scheme or default_scheme(task))
    if task == "custom":
        return load_custom(path, columns.text, columns.text_pair, columns.label, labels, columns.regression,
                           skip_bad_rows=skip_bad_rows, skipped=skipped)
    return read_task_file(task, path, split, skip_bad_rows=skip_bad_rows, skipped=skipped)


def default_scheme(task: str) -> str:
    """CoNLL tag scheme: BIO for ner, any tag set for pos."""
    return "none" if task == "pos" else "iob2"


def load_task_data(task: str, data: Sequence[str | Path], *, train: bool = True, split: str = "dev",
                   columns: CustomColumns | None = None, labels: Sequence[str] | None = None,
                   train_limit: int | None = None, eval_limit: int | None = None, scheme: str | None = None,
                   skip_bad_rows: bool = False, seed: int = 0) -> TaskData:
    """Read a task's data. With `train`, the train split is required and gives the labels; otherwise the train
    split is read only when found (for the majority baseline) and `labels` (the model's) are used. A label of an
    evaluation file that is not among those is a bad row (DataError with file and line, or skipped and counted
    in `skipped_rows` with `skip_bad_rows`), never scored as a wrong prediction."""
    task = canonical_task(task)
    family = family_of(task)
    columns = columns or CustomColumns()
    needed = eval_splits(task, split)
    files = resolve_files(task, data, ["train", *needed] if train else needed, [] if train else ["train"])
    read: dict[str, list[Any]] = {}
    skipped_rows: dict[str, dict[str, Any]] = {}
    allowed = None if train else labels
    for s, p in sorted(files.items(), key=lambda item: item[0] != "train"):  # train first: it gives the labels
        skipped: list[BadRows] = []
        read[s] = read_split(task, p, s, columns, allowed, scheme, skip_bad_rows, skipped)
        if skipped:
            skipped_rows[s] = skipped[0].to_json()
        if s == "train" and train and task == "custom" and not columns.regression:
            allowed = collect_labels(read[s])
    train_examples = subset(read.get("train", []), train_limit, seed)
    evals = {_eval_name(task, s): subset(read[s], eval_limit, seed) for s in needed}
    spec = TASKS.get(task)
    regression = spec.is_regression if spec else columns.regression if task == "custom" else False
    version = "2.0" if task == "squad2" else "1.1"
    if task == "squad" and any(squad_version(ex) == "2.0" for ex in (train_examples, *evals.values())):
        version = "2.0"
    if labels is not None and not train:
        task_labels = list(labels)
    elif spec is not None:
        task_labels = list(spec.labels)
    elif family == "tagging":
        task_labels = tag_labels(train_examples)
    elif task == "custom" and not regression:
        task_labels = collect_labels(train_examples)
    else:
        task_labels = []
    if family == "tagging" and task_labels:
        for s in needed:
            evals[_eval_name(task, s)] = _known_tags(evals[_eval_name(task, s)], task_labels, Path(files[s]),
                                                     skip_bad_rows, skipped_rows, s)
    return TaskData(task, family, train_examples, evals, task_labels, regression, spec,
                    {s: str(p) for s, p in files.items()}, version, scheme or default_scheme(task),
                    {_eval_name(task, s): s for s in needed}, skipped_rows)


def _known_tags(sentences: list[TaggedSentence], labels: Sequence[str], path: Path, skip: bool,
                skipped_rows: dict[str, dict[str, Any]], split: str) -> list[TaggedSentence]:
    """The evaluation sentences whose tags are all among the model's `labels`; one with another tag is a bad row
    (DataError naming file and line, or skipped and counted in `skipped_rows[split]` with `skip`), never scored
    as a wrong prediction."""
    known, bad = set(labels), BadRows(path)
    kept = []
    for sentence in sentences:
        unknown = sorted(set(sentence.tags) - known)
        if unknown:
            bad.add(sentence.line, f"tag(s) {', '.join(unknown)} not among the labels ({', '.join(labels)})")
        else:
            kept.append(sentence)
    found: list[BadRows] = []
    bad.finish(skip, hint="pass --skip-bad-rows to leave these sentences out (they are counted in results.json)",
               skipped=found)
    if found:
        previous = skipped_rows.get(split)
        record = found[0].to_json()
        if previous:  # rows already skipped while reading the file: one count for the file
            record = {**previous, "rows": previous["rows"] + record["rows"],
                      "first": (previous["first"] + record["first"])[:MAX_LISTED]}
        skipped_rows[split] = record
    return kept


def _eval_name(task: str, split: str) -> str:
    if task in GLUE_TASKS or task in TASKS:
        return f"{task}-mm" if split.endswith("_mm") else task
    return task if split == "dev" else f"{task}-{split}"
