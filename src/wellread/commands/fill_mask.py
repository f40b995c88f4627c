"""Show what a masked-LM predicts for each [MASK] in a text.

Examples:
  wellread fill-mask --model bert-tiny "the capital of france is [MASK]."
  echo "she opened the [MASK] and walked in." | wellread fill-mask --model bert-tiny --top-k 3
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from wellread.errors import WellreadError
from wellread.models.checkpoint import load_model, resolve_model_dir
from wellread.tokenizer import Tokenizer

HELP = "print a masked-LM's top predictions for each [MASK] in the given texts"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("texts", nargs="*", help="texts with [MASK] tokens (default: one text per line on stdin)")
    p.add_argument("--model", required=True, help="a model folder with a masked-LM head and tokenizer files")
    p.add_argument("--top-k", type=int, default=5, help="predictions per mask (default 5)")


def fill_mask(model: torch.nn.Module, tokenizer: Tokenizer, text: str, top_k: int = 5) -> list[list[dict]]:
    """For each [MASK] in text, the top_k (token, score) predictions, scores being probabilities."""
    enc = tokenizer.encode(text, truncation="longest_first", max_length=model.config.max_position_embeddings)
    ids = torch.tensor([enc.ids])
    positions = ids == tokenizer.mask_token_id
    if not positions.any():
        raise WellreadError(f"no [MASK] token in {text!r}")
    with torch.inference_mode():
        logits = model(ids, torch.ones_like(ids), torch.tensor([enc.type_ids]), masked_positions=positions).logits
    probs = logits.float().softmax(-1)  # (masks, V)
    top = probs.topk(top_k, dim=-1)
    return [[{"token": tokenizer.id_to_token(int(i)), "score": round(float(s), 4)}
             for s, i in zip(scores, idx, strict=True)] for scores, idx in zip(top.values, top.indices, strict=True)]


def run(args: argparse.Namespace) -> int:
    folder = resolve_model_dir(args.model)
    model, _ = load_model(folder, "masked-lm")
    tokenizer = Tokenizer.load(folder)
    texts = args.texts or [line.strip() for line in sys.stdin if line.strip()]
    for text in texts:
        print(json.dumps({"text": text, "predictions": fill_mask(model, tokenizer, text, args.top_k)}))
    return 0
