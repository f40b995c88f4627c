"""`wellread predict`: a file's records (.csv, .tsv, .jsonl or text lines) through the pipeline of the model's head,
their columns mapped onto the pipeline's inputs; one JSON line out per input, in order (see the command's help).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from wellread.errors import DataError
from wellread.infer.command import write_outputs
from wellread.infer.inputs import file_lines, parse_line
from wellread.infer.load import load_pipeline, pipeline_task
from wellread.infer.options import PredictOptions
from wellread.infer.pipeline import Pipeline, Record
from wellread.models.folder import read_model_folder

COLUMNS: dict[str, dict[str, str]] = {
    "classify": {"text": "text_column", "text_pair": "text_pair_column"},
    "tag": {"tokens": "tokens_column", "text": "text_column"},
    "answer": {"question": "question_column", "context": "context_column"},
    "fill-mask": {"text": "text_column"},
    "embed": {"text": "text_column"},
}
"""Pipeline task -> {record field: the option naming its column}; tagging takes tokens or else text."""


def read_inputs(path: str, text_column: str) -> list[tuple[str, dict[str, Any]]]:
    """(where, record) of every input of a file, "where" being FILE:LINE: .jsonl/.json/.ndjson one JSON object a
    line, .csv (quoted, header row), .tsv (header row, no quoting), else one text a line (or a JSON object)."""
    suffix = Path(path).suffix.lower() if path != "-" else ""
    found: list[tuple[str, dict[str, Any]]] = []
    if suffix in (".csv", ".tsv"):
        tsv = suffix == ".tsv"
        reader = csv.DictReader((line + "\n" for _, line in file_lines(path)), delimiter="\t" if tsv else ",",
                                quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                raise DataError(f"{where}: {len(row) - 1 + len(row[None])} values, but the header names "
                                f"{len(row) - 1} columns")
            found.append((where, {name: value for name, value in row.items() if value is not None}))
    else:
        for where, line in file_lines(path):
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                found.append((where, parse_line(line, (), where)))
            elif suffix in (".jsonl", ".json", ".ndjson"):
                raise DataError(f"{where}: expected a JSON object")
            else:
                found.append((where, {text_column: line}))
    if not found:
        raise DataError(f"{'stdin' if path == '-' else path}: no inputs")
    return found


def to_record(raw: dict[str, Any], pipe: Pipeline, options: PredictOptions, where: str) -> Record:
    """The pipeline record of an input: its columns renamed to the task's fields, and its "id"."""
    columns = COLUMNS[pipe.task]
    record = {"id": raw["id"]} if "id" in raw else {}
    record |= {field: raw[getattr(options, option)] for field, option in columns.items()
               if getattr(options, option) in raw}
    if "tokens" in record:
        record.pop("text", None)  # tagging: the word list wins over the text
    for field in pipe.fields[:pipe.required]:
        if field not in record and "tokens" not in record:
            option = columns[field]
            tokens = f" (or a word list in {options.tokens_column!r})" if "tokens" in columns else ""
            raise DataError(f"{where}: no {getattr(options, option)!r} field{tokens} (fields: {sorted(raw)}); "
                            f"name it with --{option.replace('_', '-')}")
    return record


def predict(options: PredictOptions) -> None:
    """Read `options.input`, run it through the model's pipeline, write the outputs (`options.output` or stdout)."""
    found = read_inputs(options.input, options.text_column)
    folder = read_model_folder(options.model)
    task = pipeline_task(folder)
    pipe = load_pipeline(folder, task, options.backend, options.batch_size, options.max_length, options.onnx_dir,
                         **(options.answer_options() if task == "answer" else {}))
    records = [pipe.parse(to_record(raw, pipe, options, where), where) for where, raw in found]
    write_outputs(pipe(records), [where for where, _ in found], options.output, pipe.backend.name)
