"""List the model presets with their shapes and parameter counts.

Example:
  wellread models
  wellread models --json
"""

from __future__ import annotations

import argparse
import json

import torch

from wellread.config import ALIASES, PRESETS, describe_preset, preset
from wellread.models import build_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object per preset instead of a table")


def parameter_count(name: str) -> int:
    """Parameters of the bare encoder (with pooler), counted without allocating weights."""
    with torch.device("meta"):
        model = build_model(preset(name), "base")
    return sum(p.numel() for p in model.parameters())


def run(args: argparse.Namespace) -> int:
    aliases = {target: alias for alias, target in ALIASES.items()}
    rows = []
    for name in PRESETS:
        c = preset(name)
        rows.append({"name": name, "alias": aliases.get(name, ""), "layers": c.num_hidden_layers,
                     "hidden": c.hidden_size, "heads": c.num_attention_heads, "ffn": c.intermediate_size,
                     "vocab": c.vocab_size, "parameters": parameter_count(name),
                     "description": describe_preset(name)})
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"{'preset':<14} {'alias':<7} {'L':>3} {'H':>4} {'A':>3} {'FFN':>5} {'params':>8}  description")
    for r in rows:
        print(f"{r['name']:<14} {r['alias']:<7} {r['layers']:>3} {r['hidden']:>4} {r['heads']:>3} {r['ffn']:>5} "
              f"{r['parameters'] / 1e6:>7.1f}M  {r['description']}")
    return 0
