"""Fine-tune and evaluate a model on every GLUE task whose data is found (and SICK with --sick), then print
the results as the BERT miniatures model card does, the JSON dict of all metrics, and the GLUE score.

The table's columns are Score, CoLA (MCC), SST-2, MRPC (F1/accuracy), STS-B (Pearson/Spearman), QQP
(F1/accuracy), MNLI-m, MNLI-mm, QNLI(v2), RTE and WNLI, all on the dev sets; a second row gives the
majority-class baseline of each task, and a task whose model predicts a single class is starred. The score is
the mean over the tasks present of each task's mean metric. Each task trains in OUT/TASK (a Hugging Face
model folder with results.json); with --grid each task runs the batch-size x learning-rate grid.

Examples:
  wellread glue --model bert-mini --data glue_data --out glue-mini
  wellread glue --model bert-mini --data glue_data --sick SICK --out glue-mini --grid          # the paper's grid
  wellread glue --model bert-mini --data glue_data --out glue-mini --tasks rte,mrpc,stsb --epochs 3
  wellread glue --model bert-mini --data glue_data --out glue-mini --resume    # skip tasks already finished
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wellread.errors import DataError, WellreadError
from wellread.finetune.data import canonical_task, eval_splits, resolve_files
from wellread.finetune.grid import finetune
from wellread.finetune.options import FinetuneOptions, GlueOptions
from wellread.options import narrow
from wellread.tasks import GLUE_TASKS, SICK_TASKS, glue_score

COLUMNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("CoLA", "cola", ("cola_mcc",)), ("SST-2", "sst2", ("sst2_acc",)), ("MRPC", "mrpc", ("mrpc_f1", "mrpc_acc")),
    ("STS-B", "stsb", ("stsb_pear", "stsb_spear")), ("QQP", "qqp", ("qqp_f1", "qqp_acc")),
    ("MNLI-m", "mnli", ("mnli_acc",)), ("MNLI-mm", "mnli", ("mnli_acc_mm",)), ("QNLI(v2)", "qnli", ("qnli_acc",)),
    ("RTE", "rte", ("rte_acc",)), ("WNLI", "wnli", ("wnli_acc",)),
]
SICK_COLUMNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("SICK-R", "sick-r", ("sickr_pear", "sickr_spear")), ("SICK-E", "sick-e", ("sicke_acc",))]


OPTIONS = GlueOptions


def available_tasks(glue_dir: Path, sick_dir: Path | None, wanted: list[str] | None) -> list[tuple[str, Path]]:
    """(task, data folder) for each task with train and dev files; a task asked for by name must have them."""
    candidates = [(t, glue_dir) for t in GLUE_TASKS] + [(t, sick_dir) for t in SICK_TASKS if sick_dir]
    if wanted:
        unknown = [t for t in wanted if t not in {name for name, _ in candidates}]
        if unknown:
            raise WellreadError(f"--tasks: {', '.join(unknown)} not among {', '.join(n for n, _ in candidates)}"
                                + ("" if sick_dir else " (SICK tasks need --sick)"))
    found, missing = [], []
    for task, folder in candidates:
        if wanted and task not in wanted:
            continue
        try:
            resolve_files(task, [folder], ["train", *eval_splits(task)])
        except DataError:
            if wanted:
                raise
            missing.append(task)
            continue
        found.append((task, folder))
    if missing:
        print(f"glue: no train/dev files for {', '.join(missing)} in {glue_dir} (skipped)")
    if not found:
        raise DataError(f"no GLUE task data found in {glue_dir}" + (f" or {sick_dir}" if sick_dir else "")
                        + "; expected task folders such as SST-2/train.tsv and SST-2/dev.tsv")
    return found


def cell(metrics: dict[str, float], names: tuple[str, ...]) -> str:
    """"81.1/71.1" for a column's metrics, "-" when the task did not run."""
    if not all(n in metrics for n in names):
        return "-"
    return "/".join(f"{metrics[n]:.1f}" for n in names)


def table(model: str, metrics: dict[str, float], baselines: dict[str, float], degenerate: set[str],
          columns: list[tuple[str, str, tuple[str, ...]]]) -> str:
    """The model-card table: the model's row and the majority-class baseline row."""
    def score(values: dict[str, float]) -> str:
        try:
            return f"{glue_score(values):.1f}"
        except ValueError:
            return "-"

    head = "|Model|Score|" + "|".join(name for name, _, _ in columns) + "|"
    rule = "|---|:---:|" + "|".join(":---:" for _ in columns) + "|"
    ours = [cell(metrics, names) + ("*" if task in degenerate and cell(metrics, names) != "-" else "")
            for _, task, names in columns]
    base = [cell(baselines, names) for _, task, names in columns]
    return "\n".join([head, rule, f"|{model}|{score(metrics)}|" + "|".join(ours) + "|",
                      f"|majority class|{score(baselines)}|" + "|".join(base) + "|"])


def run(args: GlueOptions) -> int:
    wanted = [canonical_task(t) for t in args.tasks] if args.tasks else None
    tasks = available_tasks(args.data, args.sick, wanted)
    metrics: dict[str, float] = {}
    baselines: dict[str, float] = {}
    degenerate: set[str] = set()
    per_task: dict[str, Any] = {}
    for task, folder in tasks:
        out = args.out / task
        opts = narrow(FinetuneOptions, args, out=out, task=task, data=[str(folder)])
        if args.resume and (out / "results.json").is_file():
            results = json.loads((out / "results.json").read_text(encoding="utf-8"))
            print(f"glue: {task} already finished ({out / 'results.json'})")
        else:
            results = finetune(opts)
        metrics.update(results["metrics"])
        baselines.update(results.get("baselines", {}))
        if results.get("warnings"):
            degenerate.add(task)
        per_task[task] = {k: results.get(k) for k in ("metrics", "baselines", "warnings")}
    columns = COLUMNS + (SICK_COLUMNS if args.sick else [])
    text = table(Path(str(args.model).rstrip("/")).name, metrics, baselines, degenerate, columns)
    print(text)
    if degenerate:
        print("* the model predicts a single class on this task (degenerate): see its results.json")
    print(json.dumps(metrics, indent=None))
    try:
        score: float | None = glue_score(metrics)
        print(f"GLUE score over {', '.join(t for t, _ in tasks if t not in SICK_TASKS)}: {score:.2f}")
    except ValueError:
        score = None
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "glue_table.md").write_text(text + "\n", encoding="utf-8")
    summary = {"model": args.model, "score": score, "metrics": metrics, "baselines": baselines,
               "degenerate": sorted(degenerate), "tasks": per_task}
    (args.out / "glue_results.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0
