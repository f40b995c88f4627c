"""The pipeline base: validated records in, one JSON-able dict out per record, in input order.

Every pipeline encodes its records with the model folder's tokenizer, cuts them into batches of similar
length (`eval_batches`: sorted by length, so padding is short), pads each batch to its longest member
(`pad_inputs`), runs it through its backend and puts the results back in input order. Inputs longer than
`max_length` tokens are truncated (QA: read in overlapping windows) and their output carries a `note`.
`wellread.infer.load` picks a model folder's pipeline and builds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from wellread.config import BertConfig
from wellread.errors import WellreadError
from wellread.infer.backends import Backend
from wellread.tasks.batching import eval_batches, pad_inputs
from wellread.tokenizer import Tokenizer

Record = dict[str, Any]


class Pipeline:
    """Base class. Subclasses set `task`, `fields` and `default_max_length` and implement `predict`."""

    task = ""
    fields: tuple[str, ...] = ("text",)
    """Record fields; a TSV line gives them in this order, a plain string is the first."""
    required: int = 1
    """How many of `fields` a record must have."""
    default_max_length = 512

    def __init__(self, backend: Backend, tokenizer: Tokenizer, config: BertConfig, batch_size: int = 32,
                 max_length: int | None = None) -> None:
        tokenizer.check_compatible(config)
        if batch_size < 1:
            raise WellreadError(f"batch size must be at least 1, got {batch_size}")
        limit = min(self.default_max_length, config.max_position_embeddings)
        if max_length is not None and not 8 <= max_length <= config.max_position_embeddings:
            raise WellreadError(f"max length {max_length} must be between 8 and the model's "
                                f"{config.max_position_embeddings} positions")
        self.backend = backend
        self.tok = tokenizer
        self.config = config
        self.batch_size = batch_size
        self.max_length = max_length or limit

    def parse(self, item: str | Mapping[str, Any], where: str = "input") -> Record:
        """A checked record from a string or a mapping; WellreadError naming `where` and the problem (a missing
        field, a text that is not a string, empty or only whitespace, or not encodable as UTF-8). The CLI, the
        library and the server (422) all check records here."""
        if isinstance(item, str):
            item = {self.fields[0]: item}
        if not isinstance(item, Mapping):
            raise WellreadError(f"{where}: expected a string or an object with {self._field_list()}, "
                                f"got {type(item).__name__}")
        record = dict(item)
        for name in self.fields[:self.required]:
            if name not in record:
                raise WellreadError(f"{where}: missing field {name!r} (fields: {sorted(record)}; "
                                    f"expected {self._field_list()})")
        for name in self.fields:
            if name in record:
                check_text(record[name], f"{where}: field {name!r}")
        self.check(record, where)
        return record

    def _field_list(self) -> str:
        return ", ".join(repr(f) for f in self.fields[:self.required]) + "".join(
            f" (optional {f!r})" for f in self.fields[self.required:])

    def check(self, record: Record, where: str) -> None:
        """Task-specific validation of a parsed record (fill-mask: a [MASK] is present)."""

    def __call__(self, inputs: Sequence[str | Mapping[str, Any]]) -> list[Record]:
        """One output dict per input, in input order (an input's "id" is copied to its output)."""
        if isinstance(inputs, (str, Mapping)):
            raise WellreadError("a pipeline takes a list of inputs; wrap a single input in a list")
        records = [self.parse(item, f"input {i}") for i, item in enumerate(inputs, start=1)]
        if not records:
            return []
        outputs = self.predict(records)
        return [{"id": r["id"], **o} if "id" in r else o for r, o in zip(records, outputs, strict=True)]

    def predict(self, records: list[Record]) -> list[Record]:
        """Outputs of checked records, in order."""
        raise NotImplementedError

    def logits(self, ids: Sequence[np.ndarray], types: Sequence[np.ndarray],
               mask_id: int | None = None) -> list[np.ndarray]:
        """The backend's logits of every encoded input, in input order.

        Batches of `batch_size` inputs of similar length, each padded to its longest. Per input: (C,) for a
        sequence head, (L, C) for token-level heads (its own L tokens), (M, V) for masked-LM (its M masks,
        given `mask_id`).
        """
        out: list[np.ndarray] = [np.zeros(0)] * len(ids)
        for chunk in eval_batches([len(r) for r in ids], self.batch_size):
            batch = pad_inputs([ids[i] for i in chunk], [types[i] for i in chunk], self.tok.pad_token_id)
            if mask_id is not None:
                batch["masked_positions"] = batch["input_ids"] == mask_id  # (B, T)
            logits = self.backend.forward(batch).numpy()
            if mask_id is not None:  # (M, V), masks in row-major order
                counts = batch["masked_positions"].sum(1).tolist()
                rows = np.split(logits, np.cumsum(counts)[:-1])
            elif logits.ndim == 3:  # (B, T, C)
                rows = [logits[row, :len(ids[i])] for row, i in enumerate(chunk)]
            else:  # (B, C)
                rows = list(logits)
            for row, i in enumerate(chunk):
                out[i] = rows[row]
        return out

    def truncation_note(self) -> str:
        return f"input longer than {self.max_length} tokens: truncated (--max-length)"

    def describe(self) -> dict[str, Any]:
        """What the pipeline runs, for logs and the server's health endpoint."""
        return {"task": self.task, "backend": self.backend.name, "batch_size": self.batch_size,
                "max_length": self.max_length}


def check_text(value: Any, what: str) -> None:
    """WellreadError starting with `what` unless `value` is a string with something besides whitespace that UTF-8
    can encode (a lone surrogate such as "\\ud800", which JSON can carry, cannot be)."""
    if not isinstance(value, str):
        raise WellreadError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise WellreadError(f"{what} is {'empty' if not value else 'only whitespace'}: there is nothing to read")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise WellreadError(f"{what} is not valid Unicode text: a lone surrogate "
                            f"{value[err.start]!r} at character {err.start + 1}") from None


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64 for stable probabilities."""
    z = logits.astype(np.float64) - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)
