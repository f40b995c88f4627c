"""Tiny random models for the inference tests: one folder per pipeline head, with the all-MiniLM-L6-v2 vocabulary.

Not a test module: the tests/test_infer_*.py files import `make_models` and build the folders in a temp dir
(with the `tok` fixture's tokenizer).
"""

from __future__ import annotations

from pathlib import Path

import torch
from helpers import tiny_config

from wellread.models import build_model
from wellread.models.checkpoint import save_model
from wellread.tokenizer import Tokenizer

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
HEADS = {
    "classify": ("sequence-classification", ["negative", "positive"], None),
    "regression": ("sequence-classification", ["score"], "regression"),
    "tag": ("token-classification", NER_LABELS, None),
    "answer": ("question-answering", None, None),
    "fill-mask": ("masked-lm", None, None),
    "embed": ("base", None, None),
}


def make_models(root: Path, tok: Tokenizer, max_positions: int = 128) -> dict[str, Path]:
    """name -> folder of a random 2-layer BERT (hidden 32) with that head, labels in its config."""
    folders = {}
    for seed, (name, (head, labels, problem_type)) in enumerate(HEADS.items()):
        torch.manual_seed(seed)
        config = tiny_config(tok.vocab_size, max_positions=max_positions)
        if labels is not None:
            config = config.with_labels(labels, problem_type)
        model = build_model(config, head)
        with torch.no_grad():  # larger head weights, so predictions differ between inputs
            for param in model.parameters():
                if param.dim() > 1:
                    param.mul_(4.0)
        folders[name] = save_model(model.eval(), root / name, tok)
    return folders
