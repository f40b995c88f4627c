"""Plot a training run's curves (training loss and every validation metric) to a PNG.

Examples:
  wellread plot runs/tiny/phase1-len128/log.jsonl --out docs/tiny_curves.png
  wellread plot runs/mini/phase1-len128/log.jsonl runs/mini/phase2-len512/log.jsonl --out mini.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wellread.train.plot import plot_curves, read_log


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("logs", nargs="+", type=Path, help="log.jsonl files (several phases continue each other)")
    p.add_argument("--out", required=True, type=Path, help="the PNG to write")
    p.add_argument("--title", default="", help="figure title")


def run(args: argparse.Namespace) -> int:
    print(f"wrote {plot_curves(read_log(args.logs), args.out, args.title)}")
    return 0
