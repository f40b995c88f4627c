"""Extractive question answering: a question and a context in, the answer span with its probability out.

    {"question": "Where does John live?", "context": "John lives in New York."}
        -> {"answer": "New York", "start": 14, "end": 22, "score": 0.91}

Windows and decoding are fine-tuning's (`wellread.tasks.qa_features`): a context too long for `max_length` tokens
beside its question is read in windows sharing `doc_stride` tokens (the output then says how many), and the
best span over all windows (start + end logit, at most `max_answer_length` tokens) is the answer; `score` is
its probability among the n-best spans and no answer. Models fine-tuned on SQuAD v2.0 may answer "" (start -1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wellread.errors import WellreadError
from wellread.infer.pipeline import Pipeline, Record
from wellread.tasks import QAExample
from wellread.tasks.qa_features import build_features, decode_answer, default_stride


class AnswerPipeline(Pipeline):
    task = "answer"
    fields = ("question", "context")
    required = 2
    default_max_length = 384

    def __init__(self, *args: Any, doc_stride: int | None = None, max_answer_length: int = 30,
                 null_threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.doc_stride = default_stride(self.max_length) if doc_stride is None else doc_stride
        if not 0 <= self.doc_stride < self.max_length // 2:
            raise WellreadError(f"doc stride {self.doc_stride} must be below half of max length {self.max_length}")
        self.decoding = {"max_answer_length": max_answer_length, "null_threshold": null_threshold,
                         "allow_no_answer": bool(self.config.extra.get("squad_v2"))}

    def check(self, record: Record, where: str) -> None:
        """The question must leave room for context windows beside it (the tokenizer cannot cut it)."""
        tokens = len(self.tok.tokenize(record["question"].lstrip()))
        room = self.max_length - 3 - self.doc_stride  # [CLS] question [SEP] context [SEP], windows share the stride
        if tokens >= room:
            raise WellreadError(f"{where}: the question has {tokens} tokens; with max length {self.max_length} and "
                                f"doc stride {self.doc_stride} it may have at most {room - 1}")

    def predict(self, records: list[Record]) -> list[Record]:
        examples = [QAExample(str(i), r["question"], r["context"], []) for i, r in enumerate(records)]
        features = build_features(self.tok, examples, self.max_length, self.doc_stride)
        logits = self.logits(features.ids, features.types)  # each (L, 2)
        windows: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in records]
        for f, rows in enumerate(logits):
            windows[int(features.example[f])].append((rows[:, 0], rows[:, 1], features.offsets[f]))
        outputs = []
        for example, parts in zip(examples, windows, strict=True):
            answer = decode_answer(example.context, parts, **self.decoding)
            out: Record = {"answer": answer.text, "start": answer.start,
                           "end": answer.start + len(answer.text) if answer.start >= 0 else -1,
                           "score": answer.score}
            if len(parts) > 1:
                out["note"] = (f"context longer than {self.max_length} tokens with its question: read in "
                               f"{len(parts)} windows overlapping by {self.doc_stride} tokens")
            outputs.append(out)
        return outputs

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"doc_stride": self.doc_stride}
