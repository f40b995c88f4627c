"""Run a recipe: stages in order, each one's outputs feeding the next, each skipped when already complete.

Every stage writes into OUT/NAME. When it finishes, OUT/.stages/NAME.json (its done marker) records a key: a
hash of its type and options, the fingerprints (sizes and modification times) of the files its options name,
and the key and finish time of the stage before it. On a re-run a stage is skipped when its marker's key
matches and its outputs exist; otherwise it runs again, saying why (which part of the key changed, or which
output is missing), and so does every stage after it (a changed option or a new corpus snapshot re-runs from
there on). Paths inside OUT are recorded relative to it (`$OUT/NAME/...`), so a run folder copied or moved
elsewhere still finds its finished stages. A stage that stopped part-way with the same key continues its own
checkpoints (pretrain, finetune: every `save_every` steps); one that saved none says that it starts over; with
another key its folder is cleared first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wellread.errors import WellreadError
from wellread.recipe.base import StageContext, StageRecord, StageType
from wellread.recipe.schema import Recipe, RecipeError, StageSpec
from wellread.recipe.stages import STAGES


class StageFailed(WellreadError):
    """A stage raised: the message names the stage, its position and the recipe line."""


@dataclass
class Planned:
    """A stage with where each of its inputs comes from: (option field, value or None, producing stage)."""

    spec: StageSpec
    stage: StageType
    inputs: list[tuple[str, Any, str | None]]


@dataclass
class Row:
    """One line of the summary table."""

    name: str
    type: str
    status: str
    seconds: float = 0.0
    summary: str = ""


def plan(recipe: Recipe, registry: dict[str, StageType] = STAGES) -> list[Planned]:
    """Each stage with its inputs resolved; RecipeError naming every stage whose input nothing provides."""
    produced: dict[str, str] = {}
    planned, problems = [], []
    for i, spec in enumerate(recipe.stages):
        stage = registry[spec.type]
        inputs = []
        for option, kind in stage.inputs.items():
            value = getattr(spec.options, option)
            if value is None and getattr(spec.options, stage.replaced_by.get(option, ""), None) is not None:
                continue
            if value is None and kind not in produced:
                where = f"{recipe.source}:{spec.line}: " if spec.line else ""
                problems.append(f"{where}stages[{i}] ({spec.name}): needs a {kind} input: put a stage that "
                                f"produces one before it, or set `{option}`")
            inputs.append((option, value, None if value is not None else produced.get(kind)))
        for kind in stage.produces:
            produced[kind] = spec.name
        planned.append(Planned(spec, stage, inputs))
    if problems:
        raise RecipeError("invalid recipe:\n  " + "\n  ".join(problems))
    return planned


def fingerprint(value: Any) -> Any:
    """Files named by `value` (a path, a glob or SPLIT=PATH string, or a list of them) -> a digest of the path,
    size and modification time of every file they hold; anything else (hub ids, presets) is itself."""
    if isinstance(value, list):
        return [fingerprint(v) for v in value]
    if isinstance(value, str) and "=" in value and not os.path.exists(value):  # SPLIT=FILE
        split, _, path = value.partition("=")
        return {split: fingerprint(path)}
    if isinstance(value, str) and glob.has_magic(value):
        files = sorted(Path(p) for p in glob.glob(value, recursive=True) if os.path.isfile(p))
    elif not isinstance(value, str) or not os.path.exists(value):
        return value
    else:
        files = [Path(value)] if os.path.isfile(value) else sorted(p for p in Path(value).rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        st = path.stat()
        digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return {"path": value, "files": len(files), "sha256": digest.hexdigest()[:16]}


def _key_payload(spec: StageSpec, previous: StageRecord | None) -> dict[str, Any]:
    options = dataclasses.asdict(spec.options)
    return {"type": spec.type, "options": options, "files": {k: fingerprint(v) for k, v in options.items()},
            "previous": [previous.hash, previous.finished] if previous else None}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20]


def stage_key(spec: StageSpec, previous: StageRecord | None) -> str:
    """The hash that decides whether a stage's done marker is still valid (see the module docstring)."""
    return _digest(_key_payload(spec, previous))


def key_parts(spec: StageSpec, previous: StageRecord | None) -> dict[str, str]:
    """A digest of each part of `stage_key`'s payload: what a done marker records to say why its key changed."""
    return {name: _digest(value) for name, value in _key_payload(spec, previous).items()}


KEY_CHANGES = {"type": "its stage type changed", "options": "its options changed",
               "files": "the input files its options name changed (path, size or modification time)",
               "previous": "the stage before it ran again"}
"""Key part -> why a stage whose marker's part differs runs again."""

PROGRESS = ("checkpoint", "done.json", "grid.jsonl")
"""What an interrupted training stage continues from, anywhere in its folder: a loop checkpoint (saved every
`save_every` steps), a finished pretraining phase or distillation stage, a grid's finished runs."""


def to_marker(value: Any, out: Path) -> Any:
    """A path string inside `out` (or a list of them) as `$OUT/relative`, so a copied run folder keeps its
    records; anything else unchanged."""
    if isinstance(value, list):
        return [to_marker(v, out) for v in value]
    if not isinstance(value, str) or not os.path.exists(value):
        return value
    try:
        relative = Path(value).resolve().relative_to(out.resolve())
    except ValueError:
        return value
    return "$OUT" if relative == Path() else f"$OUT/{relative.as_posix()}"


def from_marker(value: Any, out: Path) -> Any:
    """`to_marker` undone against the run folder `out` of this run."""
    if isinstance(value, list):
        return [from_marker(v, out) for v in value]
    if isinstance(value, str) and (value == "$OUT" or value.startswith("$OUT/")):
        return str(out / value.removeprefix("$OUT").lstrip("/"))
    return value


class Runner:
    """Runs a recipe's stages into `recipe.out` and prints progress and a summary."""

    def __init__(self, recipe: Recipe, registry: dict[str, StageType] = STAGES) -> None:
        self.recipe = recipe
        self.planned = plan(recipe, registry)
        self.state = recipe.out / ".stages"
        self.records: list[StageRecord] = []
        self.rows: list[Row] = []

    def _marker(self, name: str, suffix: str = ".json") -> Path:
        return self.state / f"{name}{suffix}"

    def _done(self, name: str, key: str, parts: dict[str, str]) -> tuple[StageRecord | None, str]:
        """(the stage's record when it is complete for `key`, else None with why it runs again: "" when it never
        finished)."""
        path = self._marker(name)
        if not path.is_file():
            return None, ""
        record = StageRecord(**json.loads(path.read_text(encoding="utf-8")))
        record.inputs = {k: from_marker(v, self.recipe.out) for k, v in record.inputs.items()}
        record.outputs = {k: from_marker(v, self.recipe.out) for k, v in record.outputs.items()}
        if record.hash != key:
            changed = [KEY_CHANGES[k] for k in KEY_CHANGES if record.key_parts.get(k, parts[k]) != parts[k]]
            return None, "; ".join(changed) or "its options, input files or the stage before it changed"
        missing = [p for p in record.outputs.values() if not Path(p).exists()]
        if missing:
            return None, f"its output {missing[0]} is missing"
        return record, ""

    def run(self) -> list[StageRecord]:
        """Every stage in order; StageFailed (after printing the summary) when one raises."""
        self.state.mkdir(parents=True, exist_ok=True)
        if self.recipe.threads:
            import torch

            torch.set_num_threads(self.recipe.threads)
        total = len(self.planned)
        print(f"recipe {self.recipe.name!r}: {total} stages -> {self.recipe.out}", flush=True)
        for i, planned in enumerate(self.planned, 1):
            spec = planned.spec
            previous = self.records[-1] if self.records else None
            key, parts = stage_key(spec, previous), key_parts(spec, previous)
            record, why = self._done(spec.name, key, parts)
            if record is not None:
                print(f"[{i}/{total}] {spec.name}: already complete, skipped ({record.summary})", flush=True)
                self.rows.append(Row(spec.name, spec.type, "skipped (done)", record.seconds, record.summary))
                self.records.append(record)
                continue
            if why:
                print(f"[{i}/{total}] {spec.name}: finished before, runs again: {why}", flush=True)
            try:
                record = self._run_stage(i, planned, key, parts)
            except BaseException as err:
                first_line = (str(err).splitlines() or [type(err).__name__])[0]
                self.rows.append(Row(spec.name, spec.type, "FAILED", 0.0, first_line[:100]))
                self.rows.extend(Row(p.spec.name, p.spec.type, "not run") for p in self.planned[i:])
                self.print_summary()
                if isinstance(err, KeyboardInterrupt):
                    raise
                if not isinstance(err, WellreadError):
                    traceback.print_exc()
                line = f", {self.recipe.source} line {spec.line}" if spec.line else ""
                raise StageFailed(f"stage {spec.name!r} ({i}/{total}{line}) failed: {err}\n"
                                  f"fix it and run again: the {i - 1} complete stage(s) before it are skipped") from err
            self.records.append(record)
            self.rows.append(Row(spec.name, spec.type, "done", record.seconds, record.summary))
        self.print_summary()
        return self.records

    def _run_stage(self, i: int, planned: Planned, key: str, parts: dict[str, str]) -> StageRecord:
        spec = planned.spec
        out = self.recipe.out / spec.name
        started = self._marker(spec.name, ".started")
        resume = (planned.stage.resumable and started.is_file() and out.is_dir()
                  and started.read_text(encoding="utf-8").strip() == key)
        note = ""
        if resume:
            saved = any(path.name in PROGRESS for path in out.rglob("*"))
            note = (": resuming an interrupted run from what it saved" if saved else
                    ": an interrupted run saved no checkpoint yet (see save_every), so it starts from step 0")
        self._marker(spec.name).unlink(missing_ok=True)
        if not resume:
            shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        started.write_text(key + "\n", encoding="utf-8")
        outputs = {r.name: r.outputs for r in self.records}
        inputs = {option: value if value is not None else outputs[source][planned.stage.inputs[option]]
                  for option, value, source in planned.inputs}
        print(f"\n[{i}/{len(self.planned)}] {spec.name} ({spec.type}){note} -> {out}", flush=True)
        t0 = time.perf_counter()
        result = planned.stage.run(spec.options, StageContext(spec.name, out, inputs, resume, list(self.records),
                                                               self.recipe))
        seconds = round(time.perf_counter() - t0, 1)
        record = StageRecord(
            name=spec.name, type=spec.type, hash=key, options=dataclasses.asdict(spec.options),
            inputs=inputs, outputs=result.outputs, summary=result.summary,
            details=result.details, seconds=seconds,
            finished=dt.datetime.now(dt.timezone.utc).isoformat(),  # microseconds: a re-run is always new
            key_parts=parts)
        marker = dataclasses.asdict(record) | {
            "inputs": {k: to_marker(v, self.recipe.out) for k, v in inputs.items()},
            "outputs": {k: to_marker(v, self.recipe.out) for k, v in result.outputs.items()}}
        self._marker(spec.name).write_text(json.dumps(marker, indent=2, default=str) + "\n", encoding="utf-8")
        started.unlink(missing_ok=True)
        print(f"[{i}/{len(self.planned)}] {spec.name}: done in {_duration(seconds)}: {result.summary}", flush=True)
        return record

    def print_summary(self) -> None:
        """The stage table: status, time and one-line result of each stage."""
        print(f"\nsummary of recipe {self.recipe.name!r} ({self.recipe.out}):")
        for line in table(["stage", "type", "status", "time", "result"],
                          [[r.name, r.type, r.status, _duration(r.seconds) if r.seconds else "", r.summary]
                           for r in self.rows]):
            print(line)
        sys.stdout.flush()


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def table(header: list[str], rows: list[list[str]]) -> Iterator[str]:
    """A plain-text table with aligned columns."""
    widths = [max(len(str(row[c])) for row in [header, *rows]) for c in range(len(header))]
    for n, row in enumerate([header, *rows]):
        yield "  " + "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        if n == 0:
            yield "  " + "  ".join("-" * w for w in widths)
