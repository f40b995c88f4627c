"""`wellread evaluate --task sts`: zero-shot semantic similarity of a sentence-embedding model, no training.

Each pair's score is the cosine similarity of the two sentences' embeddings (the embed pipeline: the model
folder's pooling and normalisation, on the chosen backend); the report is its Spearman and Pearson correlation
(x100, scipy) with the gold scores, beside the same two for the bag-of-words cosine (`wellread.tasks.sts`).

The pairs are found as the fine-tuning tasks find them: with --text-pair-column, the user's own CSV/TSV/JSONL
(`custom`: --text-column, --text-pair-column, --label-column holding the score); otherwise a GLUE STS-B layout
(`stsb`: STS-B/dev.tsv, sentence1/sentence2/score) or else a SICK one (`sick-r`: SICK_trial.txt for dev,
relatedness_score), from a folder or SPLIT=FILE. Each distinct sentence is embedded once; the report gives the
sentences per second of that (the whole pipeline: tokenising, batching, the forward pass, pooling).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from wellread.errors import DataError
from wellread.finetune.data import read_split, resolve_files, subset
from wellread.finetune.options import EvaluateOptions
from wellread.infer import load_pipeline
from wellread.tasks.common import BadRows, Example
from wellread.tasks.metrics import pearson, spearman
from wellread.tasks.sts import bag_of_words_cosine, cosine_rows

TASK = "sts"
LAYOUTS = ("stsb", "sick-r")
BASELINE = "bag-of-words cosine"


def is_sts(task: str | None) -> bool:
    """Whether `--task` names the zero-shot similarity evaluation."""
    return (task or "").strip().lower() == TASK


def sts_examples(job: EvaluateOptions) -> tuple[str, Path, list[Example], dict[str, Any]]:
    """(layout, file, scored pairs, skipped bad rows) of `job.split` in `job.data` (module docstring)."""
    if not job.data:
        raise DataError("--data is required: a data folder or SPLIT=FILE items")
    if job.text_pair_column is not None:
        layouts, columns = ["custom"], replace(job.columns, regression=True)
    else:
        layouts, columns = list(LAYOUTS), job.columns
    problems = []
    for layout in layouts:
        skipped: list[BadRows] = []
        try:
            path = resolve_files(layout, job.data, [job.split])[job.split]
            examples = read_split(layout, path, job.split, columns, skip_bad_rows=job.skip_bad_rows, skipped=skipped)
        except DataError as err:
            problems.append(f"as {layout}: {err}")
            continue
        scored = [e for e in examples if e.text_b is not None and isinstance(e.label, float)]
        if not scored:
            raise DataError(f"{path}: no sentence pairs with a score")
        return layout, path, subset(scored, job.dev_limit), skipped[0].to_json() if skipped else {}
    hint = "" if job.text_pair_column else "; for your own CSV/TSV/JSONL give --text-pair-column (and --text-column, " \
                                          "--label-column for the score)"
    raise DataError("no scored sentence pairs for --task sts: " + "; ".join(problems) + hint)


def evaluate_sts(job: EvaluateOptions) -> dict[str, Any]:
    """Embed every distinct sentence of the pairs once, score each pair by cosine, correlate with the gold scores;
    the results (as `wellread evaluate` reports them, plus the embedding speed)."""
    layout, path, examples, skipped = sts_examples(job)
    pipe = load_pipeline(job.model, "embed", job.backend, job.eval_batch_size, job.max_length)
    sentences = list(dict.fromkeys(t for e in examples for t in (e.text_a, e.text_b)))
    start = time.perf_counter()
    vectors = pipe.embed(sentences)  # (S, H)
    seconds = time.perf_counter() - start
    row = {s: i for i, s in enumerate(sentences)}
    similarity = cosine_rows(vectors[[row[e.text_a] for e in examples]], vectors[[row[e.text_b] for e in examples]])
    gold = [float(e.label) for e in examples]  # type: ignore[arg-type]  (scored pairs: floats)
    words = bag_of_words_cosine([e.text_a for e in examples], [e.text_b for e in examples])
    results: dict[str, Any] = {"task": TASK, "layout": layout, "model": str(job.model), "split": job.split,
                               "files": {job.split: str(path)}}
    if skipped:
        results["skipped_rows"] = {job.split: skipped}
    similarity_list = similarity.tolist()
    return results | {
        "metrics": {"spearman": spearman(similarity_list, gold), "pearson": pearson(similarity_list, gold)},
        "baselines": {"spearman": spearman(words, gold), "pearson": pearson(words, gold)}, "baseline": BASELINE,
        "details": {f"{TASK} ({layout})": {"examples": len(examples)}},
        "speed": {"sentences": len(sentences), "seconds": round(seconds, 3),
                  "sentences_per_second": round(len(sentences) / max(seconds, 1e-9), 1), **pipe.describe()}}

def speed_line(results: dict[str, Any]) -> str:
    """One line: how fast the sentences were embedded, on which backend."""
    speed = results["speed"]
    return (f"  {speed['sentences']} sentences embedded in {speed['seconds']:.2f} s: "
            f"{speed['sentences_per_second']:.1f} sentences/s ({speed['backend']}, batch {speed['batch_size']}, "
            f"{speed['pooling']} pooling{', normalised' if speed['normalize'] else ''})")
