"""The search's picture: every evaluated length configuration, the Pareto frontier, the full model and the
chosen configuration, as cost (latency or GFLOPs) against the dev metric."""

from __future__ import annotations

from pathlib import Path

from wellread.dynamic.search import Candidate


def plot_frontier(candidates: list[Candidate], frontier: list[Candidate], full: Candidate, chosen: Candidate,
                  path: Path, cost_label: str, metric_label: str, scale: float = 1.0, title: str = "",
                  max_drop: float | None = None) -> Path:
    """Write a PNG; costs are multiplied by `scale` (e.g. seconds -> ms per input) before plotting; a dashed
    line marks the metric budget (`max_drop` below the full model); configurations that skip layers are crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    skipping = [c for c in candidates if 0 in c.gene]
    tokens_only = [c for c in candidates if 0 not in c.gene]
    ax.scatter([c.cost * scale for c in tokens_only], [c.metric for c in tokens_only], s=12, color="0.7",
               label=f"evaluated ({len(tokens_only)})")
    if skipping:
        ax.scatter([c.cost * scale for c in skipping], [c.metric for c in skipping], s=14, marker="x",
                   color="tab:orange", lw=0.8, label=f"evaluated, skipping layers ({len(skipping)})")
    ax.plot([c.cost * scale for c in frontier], [c.metric for c in frontier], "o-", color="tab:blue", ms=4,
            label="Pareto frontier")
    ax.scatter([full.cost * scale], [full.metric], marker="*", s=160, color="black", zorder=3, label="full length")
    ax.scatter([chosen.cost * scale], [chosen.metric], marker="D", s=60, color="tab:red", zorder=3,
               label=f"chosen ({full.cost / chosen.cost:.2f}x cheaper)")
    if max_drop is not None:
        ax.axhline(full.metric - max_drop, ls="--", lw=1, color="tab:red", label=f"full - {max_drop:g}")
    ax.set_xlabel(cost_label)
    ax.set_ylabel(metric_label)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
