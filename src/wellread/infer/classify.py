"""Sequence classification and regression: a text or a text pair in, a label with probabilities (or a score) out.

    {"text": "a gripping film"}                         -> {"label": "positive", "score": 0.97,
                                                            "scores": {"negative": 0.03, "positive": 0.97}}
    {"text": "A man sleeps.", "text_pair": "He rests."}  (pairs: NLI, paraphrase, similarity models)
    a regression model (problem_type "regression")      -> {"score": 3.8}

Texts are encoded as in fine-tuning: [CLS] A [SEP] B [SEP], cut to max_length with "longest_first".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wellread.infer.pipeline import Pipeline, Record, softmax
from wellread.tokenizer import Encoding


class ClassifyPipeline(Pipeline):
    task = "classify"
    fields = ("text", "text_pair")
    required = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.regression = self.config.problem_type == "regression"
        id2label = self.config.id2label or {}
        self.labels = [id2label.get(i, str(i)) for i in range(self.config.num_labels)]

    def predict(self, records: list[Record]) -> list[Record]:
        encs = self.encode(records)
        logits = self.logits([np.asarray(e.ids) for e in encs], [np.asarray(e.type_ids) for e in encs])
        outputs = [self.output(row) for row in logits]
        for out, enc in zip(outputs, encs, strict=True):
            if enc.overflowing:
                out["note"] = self.truncation_note()
        return outputs

    def encode(self, records: list[Record]) -> list[Encoding]:
        """Single texts and pairs, each group encoded in one batch call, back in record order."""
        encs: list[Encoding | None] = [None] * len(records)
        for has_pair in (False, True):
            group = [i for i, r in enumerate(records) if ("text_pair" in r) == has_pair]
            if not group:
                continue
            pairs = [records[i]["text_pair"] for i in group] if has_pair else None
            done = self.tok.encode_batch([records[i]["text"] for i in group], pairs, max_length=self.max_length,
                                         truncation="longest_first")
            for i, enc in zip(group, done, strict=True):
                encs[i] = enc
        return encs

    def output(self, logits: np.ndarray) -> Record:
        """{"score"} for regression; else {"label", "score", "scores"} with softmax probabilities."""
        if self.regression:
            return {"score": float(logits[0])}
        probs = softmax(logits)
        best = int(probs.argmax())
        return {"label": self.labels[best], "score": float(probs[best]),
                "scores": {name: float(p) for name, p in zip(self.labels, probs, strict=True)}}
