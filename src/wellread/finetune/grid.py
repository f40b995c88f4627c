"""The BERT-miniatures hyper-parameter grid: batch sizes x learning rates, the best run on dev kept.

Turc et al. (2019) fine-tuned each compact model with batch size {8, 16, 32, 64, 128} x learning rate {3e-4,
1e-4, 5e-5, 3e-5} for 4 epochs and reported the best dev result. Each run trains in `OUT/runs/bs{B}-lr{LR}`;
its result is appended to `OUT/grid.jsonl` as soon as it finishes, and the best model so far is copied to
`OUT` (the Hugging Face folder). Running the same command again resumes: recorded runs are skipped and a run
that was interrupted continues from its last checkpoint (`--save-every`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wellread.finetune.options import FinetuneOptions
from wellread.finetune.run import Prepared, default_select_metric, prepare, train_once
from wellread.train.folder import MARKER, claim, read_marker, remove, start_afresh, write_json, writer_of

EPOCHS = 4.0
RUN_FILES_KEPT = ("results.json", "log.jsonl", MARKER)
GRID_FILES = ("grid.jsonl", "grid.md", "runs")


def run_name(batch_size: int, lr: float) -> str:
    """The run's folder name, e.g. bs32-lr0.0001."""
    return f"bs{batch_size}-lr{lr:g}"


def read_records(path: Path) -> list[dict[str, Any]]:
    """The finished runs recorded in grid.jsonl (a half-written last line is ignored)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _key(record: dict[str, Any]) -> tuple:
    return record["batch_size"], float(record["lr"]), float(record["epochs"]), record["seed"]


def _copy_model(run_dir: Path, out: Path) -> None:
    for item in run_dir.iterdir():
        if item.is_file() and item.name not in RUN_FILES_KEPT:  # each replaced only once complete
            shutil.copy2(item, out / f".{item.name}.tmp")
            os.replace(out / f".{item.name}.tmp", out / item.name)


def markdown_table(records: Sequence[dict[str, Any]], select: str, best: dict[str, Any] | None) -> str:
    """One row per run: batch size, learning rate, every metric, best step, time and notes."""
    metrics = list(dict.fromkeys(k for r in records for k in r["metrics"]))
    lines = ["| batch | lr | " + " | ".join(metrics) + " | best step | seconds | note |",
             "|---:|---:|" + "---:|" * len(metrics) + "---:|---:|---|"]
    for r in records:
        notes = (["best " + select] if r is best else []) + (["DEGENERATE"] if r.get("warnings") else [])
        values = " | ".join(f"{r['metrics'][m]:.2f}" if m in r["metrics"] else "-" for m in metrics)
        lines.append(f"| {r['batch_size']} | {r['lr']:g} | {values} | {r.get('best_step') or '-'} | "
                     f"{r.get('train_seconds', 0):.0f} | {', '.join(notes)} |")
    return "\n".join(lines)


def run_grid(opts: FinetuneOptions, prep: Prepared | None = None) -> dict[str, Any]:
    """Every (batch size, learning rate) run of `opts.grid_batch_sizes` x `opts.grid_lrs` not yet recorded, then
    the best one's model and a summary."""
    batch_sizes, lrs = opts.grid_batch_sizes, opts.grid_lrs
    out = Path(opts.out)
    writer = writer_of(opts)
    claim(out, writer, opts.overwrite)  # the same grid again resumes; another run's folder needs --overwrite
    if read_marker(out) != writer:
        start_afresh(out, writer)
        remove(out, GRID_FILES)
    prep = prep or prepare(opts)
    select = opts.select_metric or default_select_metric(prep.data)
    epochs = opts.epochs_or(EPOCHS)
    grid_file = out / "grid.jsonl"
    wanted = {(b, float(lr), float(epochs), opts.seed) for b in batch_sizes for lr in lrs}
    records = [r for r in read_records(grid_file) if _key(r) in wanted]
    done = {_key(r) for r in records}
    best = max(records, key=lambda r: r["metrics"][select], default=None)
    for batch_size in batch_sizes:
        for lr in lrs:
            key = (batch_size, float(lr), float(epochs), opts.seed)
            if key in done:
                print(f"grid: {run_name(batch_size, lr)} already recorded in {grid_file}, skipped")
                continue
            run_dir = out / "runs" / run_name(batch_size, lr)
            results = train_once(opts, prep, run_dir, lr, batch_size, epochs, resume=True)
            record = {k: results[k] for k in ("batch_size", "lr", "epochs", "metrics", "baselines", "warnings",
                                              "best_step", "steps", "train_seconds")}
            record.update(seed=opts.seed, run=str(run_dir))
            if best is None or record["metrics"][select] > best["metrics"][select]:
                _copy_model(run_dir, out)
                best = record
            with open(grid_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            records.append(record)
            if not opts.keep_checkpoints:  # the best model is in OUT; a run folder keeps its results and log
                for item in run_dir.iterdir():
                    if item.is_file() and item.name not in RUN_FILES_KEPT:
                        item.unlink()
    assert best is not None  # the grid has at least one run
    table = markdown_table(records, select, best)
    print(table)
    summary = {"task": prep.data.name, "model": opts.model, "select_metric": select, "best": best,
               "metrics": best["metrics"], "baselines": best["baselines"], "warnings": best["warnings"],
               "skipped_rows": prep.data.skipped_rows, "runs": records}
    write_json(out / "results.json", summary)
    (out / "grid.md").write_text(table + "\n", encoding="utf-8")
    print(f"best: batch {best['batch_size']}, lr {best['lr']:g}: {select} {best['metrics'][select]:.2f}; "
          f"model in {out}")
    return summary


def finetune(opts: FinetuneOptions) -> dict[str, Any]:
    """`wellread finetune`: one run, or the grid of batch sizes x learning rates when `opts.grid`."""
    if opts.grid:
        return run_grid(opts)
    return train_once(opts, prepare(opts), opts.out, opts.lr, opts.batch_size, opts.epochs_or(3.0), opts.resume)
