"""Masked-LM predictions: a text with [MASK] tokens in, the top-k tokens (with probabilities) for each mask out.

    {"text": "the capital of france is [MASK]."}
        -> {"text": "the capital of france is [MASK].", "predictions": [[{"token": "paris", "score": 0.41}, ...]]}

The vocabulary projection runs only at the masks (`masked_positions`). A text without the tokenizer's mask
token is an input error. Masks past `max_length` tokens are cut with the text (note).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wellread.errors import WellreadError
from wellread.infer.pipeline import Pipeline, Record, softmax


class FillMaskPipeline(Pipeline):
    task = "fill-mask"
    fields = ("text",)

    def __init__(self, *args: Any, top_k: int = 5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if top_k < 1:
            raise WellreadError(f"top-k must be at least 1, got {top_k}")
        self.top_k = top_k
        self.mask_token = self.tok.special_tokens["mask_token"]

    def check(self, record: Record, where: str) -> None:
        if self.mask_token not in record["text"]:
            raise WellreadError(f"{where}: no {self.mask_token} token in {record['text'][:80]!r}")

    def predict(self, records: list[Record]) -> list[Record]:
        encs = self.tok.encode_batch([r["text"] for r in records], max_length=self.max_length,
                                     truncation="longest_first")
        mask_id = self.tok.mask_token_id
        ids = [np.asarray(e.ids) for e in encs]
        logits = self.logits(ids, [np.asarray(e.type_ids) for e in encs], mask_id=mask_id)  # each (M, V)
        outputs = []
        for record, enc, rows in zip(records, encs, logits, strict=True):
            probs = softmax(rows)  # (M, V)
            top = np.argsort(-probs, axis=-1, kind="stable")[:, :self.top_k]  # (M, k)
            predictions = [[{"token": self.tok.id_to_token(int(i)), "score": float(p[i])} for i in row]
                           for row, p in zip(top, probs, strict=True)]
            out: Record = {"text": record["text"], "predictions": predictions}
            if enc.overflowing:
                out["note"] = self.truncation_note() + "; masks after the cut are not predicted"
            if not out["predictions"]:
                out["note"] = self.truncation_note() + "; every mask was after the cut"
            outputs.append(out)
        return outputs

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"top_k": self.top_k}
