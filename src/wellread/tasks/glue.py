"""Readers for the GLUE and SICK sentence(-pair) tasks: the official TSV files, or the `datasets` glue configs.

TSV files are read GLUE style: tab-separated, quoting disabled (a `"` is an ordinary character), a UTF-8 BOM
and CRLF line ends tolerated. Columns are found by the header's names, so GLUE's and the original MSR layout
of MRPC, MNLI's train (12 columns) and dev (16 columns) files and the test files all work; CoLA's header-less
train/dev files use the fixed columns (source, label, label mark, sentence). Blank lines are ignored.

Bad rows (wrong number of fields, unknown label, unparsable or non-finite score) are all collected and
reported in one `DataError` naming the file and line numbers. The real QQP train file has a few such rows: pass
`skip_bad_rows=True` to drop them; a `DataWarning` then lists what was dropped. Nothing is dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wellread.errors import DataError, WellreadError
from wellread.tasks.common import BadRows, Example, read_lines, split_tsv
from wellread.tasks.specs import TaskSpec, get_task


def _spec(task: str | TaskSpec) -> TaskSpec:
    return task if isinstance(task, TaskSpec) else get_task(task)


def _parse_label(spec: TaskSpec, value: str) -> str | float:
    """The label of one row, or ValueError with the reason."""
    value = value.strip()
    if spec.is_regression:
        try:
            score = float(value)
        except ValueError:
            raise ValueError(f"{spec.label_column} {value!r} is not a number") from None
        if not math.isfinite(score):
            raise ValueError(f"{spec.label_column} {value!r} is not a finite number")
        return score
    if value not in spec.labels:
        raise ValueError(f"unknown {spec.label_column} {value!r} (labels: {', '.join(spec.labels)})")
    return value


def read_task_file(
    task: str | TaskSpec, path: str | Path, split: str = "train", *, skip_bad_rows: bool = False,
    skipped: list[BadRows] | None = None,
) -> list[Example]:
    """Read one task TSV file into Examples (see the module docstring for layouts and bad-row handling; rows
    dropped with `skip_bad_rows` are added to `skipped` when given, to be counted).

    The label column is required except for test splits (`split` starting with "test"), where a file without
    it gives examples with `label=None`.
    """
    spec, path = _spec(task), Path(path)
    rows = [(number, line) for number, line in read_lines(path) if line.strip()]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    first_number, first_line = rows[0]
    fields = split_tsv(first_line)
    if all(column in fields for column in spec.text_columns):
        columns, rows = fields, rows[1:]
    elif spec.headerless_columns is not None:
        columns = list(spec.headerless_columns)
    else:
        missing = [c for c in spec.text_columns if c not in fields]
        raise DataError(
            f"{path}:{first_number}: header has no column {', '.join(map(repr, missing))} for {spec.name}; "
            f"columns found: {fields}"
        )
    if spec.label_column in columns:
        label_index: int | None = columns.index(spec.label_column)
    elif split.startswith("test"):
        label_index = None
    else:
        raise DataError(f"{path}:{first_number}: no label column {spec.label_column!r}; columns found: {columns}")
    text_indices = [columns.index(c) for c in spec.text_columns]
    id_index = columns.index(spec.id_column) if spec.id_column in columns else None
    examples, bad = [], BadRows(path)
    for number, line in rows:
        fields = split_tsv(line)
        if len(fields) != len(columns):
            bad.add(number, f"expected {len(columns)} tab-separated fields, found {len(fields)}")
            continue
        try:
            label = None if label_index is None else _parse_label(spec, fields[label_index])
        except ValueError as error:
            bad.add(number, str(error))
            continue
        texts = [fields[i] for i in text_indices]
        guid = fields[id_index] if id_index is not None else f"{split}-{number}"
        examples.append(Example(texts[0], texts[1] if len(texts) > 1 else None, label, guid, number))
    bad.finish(skip_bad_rows, hint="pass skip_bad_rows=True (--skip-bad-rows) to drop these rows with a warning",
               skipped=skipped)
    return examples


def task_file(task: str | TaskSpec, data_dir: str | Path, split: str) -> Path:
    """The file of `split` for `task` in `data_dir` (the task folder, or a GLUE root holding it)."""
    spec, data_dir = _spec(task), Path(data_dir)
    if split not in spec.files:
        raise DataError(f"{spec.name} has no split {split!r}; splits: {', '.join(spec.files)}")
    candidates = [folder / name for folder in (data_dir, data_dir / spec.dir_name) for name in spec.files[split]]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(f"no {split} file for {spec.name} in {data_dir}; looked for {', '.join(map(str, candidates))}")


def load_glue(
    task: str | TaskSpec, data_dir: str | Path, split: str = "train", *, skip_bad_rows: bool = False
) -> list[Example]:
    """Examples of a GLUE (or SICK) task split read from its official TSV file.

    `data_dir` is the task's folder (e.g. `glue_data/MNLI`) or the GLUE root holding it. Splits: "train",
    "dev", "test", and for MNLI also "dev_mm"/"test_mm" (dev = dev_matched). Labels are strings from
    `spec.labels` (floats for STS-B/SICK relatedness).
    """
    return read_task_file(task, task_file(task, data_dir, split), split, skip_bad_rows=skip_bad_rows)


def load_sick(data_dir: str | Path, split: str = "train", task: str = "sick-r") -> list[Example]:
    """SICK as regression ("sick-r", relatedness 1-5) or 3-way entailment ("sick-e"); dev = SICK_trial.txt."""
    spec = get_task(task)
    if not spec.name.startswith("sick"):
        raise ValueError(f"load_sick: {task!r} is not a SICK task (sick-r, sick-e)")
    return load_glue(spec, data_dir, split)


_HF_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
_HF_MNLI_SPLITS = {
    "train": "train",
    "dev": "validation_matched",
    "dev_mm": "validation_mismatched",
    "test": "test_matched",
    "test_mm": "test_mismatched",
}


def _hf_label(spec: TaskSpec, value: Any, split: str) -> str | float | None:
    if value is None or (split.startswith("test") and value == -1):
        return None
    if spec.is_regression:
        return float(value)
    if not isinstance(value, int) or not 0 <= value < len(spec.hf_labels):
        raise ValueError(f"label {value!r} is not one of the {len(spec.hf_labels)} class ids")
    return spec.hf_labels[value][1]


def _check_hf_names(spec: TaskSpec, dataset: Any) -> None:
    features = getattr(dataset, "features", None)
    feature = features.get("label") if isinstance(features, Mapping) else None
    names = getattr(feature, "names", None)
    expected = [hf_name for hf_name, _ in spec.hf_labels]
    if names is not None and list(names) != expected:
        raise DataError(
            f"glue/{spec.hf_config}: the dataset's label names {list(names)} differ from the expected {expected}; "
            "refusing to guess the label mapping"
        )


def load_glue_hf(
    task: str | TaskSpec,
    split: str = "train",
    *,
    dataset: Iterable[Mapping[str, Any]] | None = None,
    cache_dir: str | None = None,
) -> list[Example]:
    """Examples of a GLUE task from the Hugging Face `datasets` "glue" config (needs `datasets` and a network).

    Integer labels are mapped *by name* to the same label strings as `load_glue` (HF MNLI's 0 = entailment
    becomes "entailment", which is index 1 in wellread's order). Test-split labels (-1) become None. `dataset`
    may be passed in directly (an already-loaded split, or any iterable of row dicts).
    """
    spec = _spec(task)
    if spec.hf_config is None:
        raise ValueError(f"{spec.name} is not a GLUE task of the `datasets` library")
    splits = _HF_MNLI_SPLITS if spec.name == "mnli" else _HF_SPLITS
    if split not in splits:
        raise ValueError(f"{spec.name} has no split {split!r}; splits: {', '.join(splits)}")
    if dataset is None:
        try:
            import datasets
        except ImportError as error:
            message = "loading GLUE from the hub needs the `datasets` package (pip install datasets)"
            raise WellreadError(message) from error
        dataset = datasets.load_dataset("glue", spec.hf_config, split=splits[split], cache_dir=cache_dir)
    _check_hf_names(spec, dataset)
    source = Path(f"datasets:glue/{spec.hf_config}/{splits[split]}")
    examples, bad = [], BadRows(source)
    for row_number, row in enumerate(dataset, start=1):
        try:
            texts = [row[column] for column in spec.hf_text_columns]
            label = _hf_label(spec, row.get("label"), split)
        except (KeyError, ValueError) as error:
            bad.add(row_number, f"missing column {error}" if isinstance(error, KeyError) else str(error))
            continue
        guid = str(row.get("idx", f"{split}-{row_number}"))
        examples.append(Example(texts[0], texts[1] if len(texts) > 1 else None, label, guid, row_number))
    bad.finish()
    return examples
