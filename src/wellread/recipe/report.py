"""What a finished recipe prints last: the results table and where the models and their cards are."""

from __future__ import annotations

from pathlib import Path

from wellread.recipe.base import StageRecord
from wellread.recipe.card import evaluation_rows
from wellread.recipe.runner import table


def print_outcome(records: list[StageRecord]) -> None:
    """The results table (each figure beside its majority baseline), then each model folder and its card."""
    rows = evaluation_rows(records)
    if rows:
        print("\nresults:")
        for line in table(["stage", "task", "split", "metric", "value", "majority baseline"],
                          [[r["stage"], r["task"], r["split"], r["metric"], f"{r['value']:.2f}",
                            "" if r["baseline"] is None else f"{r['baseline']:.2f}"] for r in rows]):
            print(line)
    print("\nmodels:")
    for record in records:
        folder = record.outputs.get("finetuned") or record.outputs.get("model")
        if folder:
            card = Path(folder) / "README.md"
            print(f"  {record.name}: {folder}" + (f"  (card: {card})" if card.is_file() else ""))
