"""Training curves from a run's log.jsonl, as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

from wellread.errors import DataError


def read_log(paths: list[Path]) -> list[dict]:
    """Records of one or more log.jsonl files (phases in order); steps continue across files."""
    records, offset = [], 0
    for path in paths:
        if not path.is_file():
            raise DataError(f"no training log at {path}")
        last = 0
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{line_no}: not JSON ({err})") from None
            last = max(last, record.get("step", 0))
            records.append({**record, "step": record.get("step", 0) + offset, "source": str(path)})
        offset += last
    return records


def plot_curves(records: list[dict], out: Path, title: str = "") -> Path:
    """Training loss, and every evaluation metric, against the step (one panel each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if r["type"] == "train"]
    evals = [r for r in records if r["type"] == "eval"]
    metrics = sorted({k for r in evals for k, v in r.items() if isinstance(v, float)})
    panels = [("train loss", [(r["step"], r["loss"]) for r in train])]
    panels += [(m, [(r["step"], r[m]) for r in evals if m in r]) for m in metrics]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (name, points) in zip(axes[0], panels, strict=True):
        if points:
            ax.plot(*zip(*points, strict=True), marker="o" if name != "train loss" else None, markersize=3)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if "perplexity" in name:
            ax.set_yscale("log")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
