"""Extractive question answering (SQuAD v1.1 / v2.0) as a training-loop Task.

Features: each question/context pair is cut into windows of `max_length` tokens that share `doc_stride`
context tokens (`Tokenizer.encode_windows_batch`, the same windows as `transformers`). A window's target is the
first answer's first and last token, found from the character offsets; a window that does not contain the
whole answer (and an unanswerable question) targets [CLS] (position 0), as BERT's SQuAD code does.

Decoding: per window the `n_best` highest start and end logits over context tokens form candidate spans (end
not before start, at most `max_answer_length` tokens); the best-scoring span (start + end logit) over all of
an example's windows is the answer, its text cut from the context by the offsets. For v2.0 the null score is
the [CLS] start + end logit (the lowest over windows); the answer is "" when the null score beats the best
span by more than `null_threshold`. EM/F1 are the official scripts', against every reference answer; for v2.0
the evaluation also searches the threshold that would have been best (best_f1 / best_f1_thresh, to pass as
`--null-threshold`), as the official v2.0 script does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wellread.errors import WellreadError
from wellread.finetune.base import EvalReport, FinetuneTask, eval_batches, forward, pad_inputs
from wellread.finetune.data import TaskData
from wellread.tasks import QAExample, evaluate_squad, is_degenerate
from wellread.tasks.qa import references
from wellread.tasks.squad_eval import best_null_thresholds
from wellread.tokenizer import Tokenizer

ENCODE_CHUNK = 512


def default_stride(max_length: int) -> int:
    """128 context tokens shared by consecutive windows (BERT's default at 384), at most a third of max_length."""
    return min(128, max_length // 3)


@dataclass
class QAFeatures:
    """The windows of a list of examples. offsets[f] is (L, 2) character offsets into the context for context
    tokens and (-1, -1) for question, special and padding tokens."""

    example: np.ndarray  # (F,) index of the example each window belongs to
    ids: list[np.ndarray]
    types: list[np.ndarray]
    offsets: list[np.ndarray]
    starts: np.ndarray  # (F,) target start token (0 = [CLS])
    ends: np.ndarray  # (F,) target end token

    def __len__(self) -> int:
        return len(self.ids)


def answer_tokens(offsets: np.ndarray, start_char: int, end_char: int) -> tuple[int, int]:
    """(first, last) token of the character span [start_char, end_char) in a window, or (0, 0) when the window
    does not contain the whole span. offsets: (L, 2), -1 outside the context."""
    context = np.flatnonzero(offsets[:, 0] >= 0)
    if len(context) == 0 or offsets[context[0], 0] > start_char or offsets[context[-1], 1] < end_char:
        return 0, 0
    first = context[np.flatnonzero(offsets[context, 0] <= start_char)[-1]]
    last = context[np.flatnonzero(offsets[context, 1] >= end_char)[0]]
    return int(first), int(last)


def build_features(tok: Tokenizer, examples: Sequence[QAExample], max_length: int = 384,
                   doc_stride: int = 128) -> QAFeatures:
    """Windows of every example with their training targets (from the first answer)."""
    example, ids, types, offsets, starts, ends = [], [], [], [], [], []
    for chunk_start in range(0, len(examples), ENCODE_CHUNK):
        chunk = examples[chunk_start:chunk_start + ENCODE_CHUNK]
        windows = tok.encode_windows_batch([ex.question.lstrip() for ex in chunk], [ex.context for ex in chunk],
                                           max_length, doc_stride)
        for k, (ex, encs) in enumerate(zip(chunk, windows, strict=True)):
            for enc in encs:
                off = np.array(enc.offsets, dtype=np.int32).reshape(-1, 2)  # (L, 2)
                off[np.array([s != 1 for s in enc.sequence_ids])] = -1
                if ex.answers:
                    answer = ex.answers[0]
                    first, last = answer_tokens(off, answer.start, answer.start + len(answer.text))
                else:
                    first, last = 0, 0
                example.append(chunk_start + k)
                ids.append(np.asarray(enc.ids, dtype=np.int32))
                types.append(np.asarray(enc.type_ids, dtype=np.int8))
                offsets.append(off)
                starts.append(first)
                ends.append(last)
    return QAFeatures(np.array(example, dtype=np.int64), ids, types, offsets, np.array(starts, dtype=np.int64),
                      np.array(ends, dtype=np.int64))


@dataclass(frozen=True)
class Span:
    """A candidate answer: its score (start + end logit), token positions and character span."""

    score: float
    start: int
    end: int
    char_start: int
    char_end: int


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, offsets: np.ndarray, n_best: int = 20,
               max_answer_length: int = 30) -> list[Span]:
    """The `n_best` best valid spans of one window (context tokens only), best first. Logits: (L,)."""
    context = np.flatnonzero(offsets[:, 0] >= 0)
    if len(context) == 0:
        return []
    top_starts = context[np.argsort(-start_logits[context], kind="stable")[:n_best]]
    top_ends = context[np.argsort(-end_logits[context], kind="stable")[:n_best]]
    spans = [Span(float(start_logits[s] + end_logits[e]), int(s), int(e), int(offsets[s, 0]), int(offsets[e, 1]))
             for s in top_starts for e in top_ends if s <= e < s + max_answer_length]
    return sorted(spans, key=lambda span: -span.score)[:n_best]


@dataclass
class Prediction:
    """A decoded answer: its text ("" = no answer; start -1), its probability among the n-best spans and the
    null answer, the probability of no answer, the best span's text even when "no answer" won, and the null
    score minus the best span's (what `null_threshold` is compared with; inf when there is no span)."""

    text: str
    start: int
    score: float
    no_answer_probability: float
    best_span_text: str = ""
    null_margin: float = float("inf")


def decode_answer(context: str, windows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], n_best: int = 20,
                  max_answer_length: int = 30, allow_no_answer: bool = False,
                  null_threshold: float = 0.0) -> Prediction:
    """The answer to one example from its windows' (start logits (L,), end logits (L,), offsets (L, 2))."""
    spans: list[Span] = []
    null = float("inf")
    for start_logits, end_logits, offsets in windows:
        spans.extend(best_spans(start_logits, end_logits, offsets, n_best, max_answer_length))
        null = min(null, float(start_logits[0] + end_logits[0]))
    spans = sorted(spans, key=lambda span: -span.score)[:n_best]
    scores = np.array([s.score for s in spans] + [null])
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    no_answer = float(probs[-1])
    if not spans:
        return Prediction("", -1, no_answer, no_answer)
    best = spans[0]
    text, margin = context[best.char_start:best.char_end], null - best.score
    if allow_no_answer and margin > null_threshold:
        return Prediction("", -1, no_answer, no_answer, text, margin)
    return Prediction(text, best.char_start, float(probs[0]), no_answer, text, margin)


@torch.inference_mode()
def window_logits(model: nn.Module, tok: Tokenizer, features: QAFeatures,
                  batch_size: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
    """(start logits (L,), end logits (L,)) of every window, in feature order."""
    out: list = [None] * len(features)
    for chunk in eval_batches([len(r) for r in features.ids], batch_size):
        batch = pad_inputs([features.ids[i] for i in chunk], [features.types[i] for i in chunk], tok.pad_token_id)
        logits = forward(model, batch).numpy()  # (B, T, 2)
        for row, i in enumerate(chunk):
            n = len(features.ids[i])
            out[i] = (logits[row, :n, 0], logits[row, :n, 1])
    return out


def answer_all(model: nn.Module, tok: Tokenizer, examples: Sequence[QAExample], features: QAFeatures,
               batch_size: int = 64, **decoding: float | int | bool) -> list[Prediction]:
    """Decoded answers of every example, in example order."""
    logits = window_logits(model, tok, features, batch_size)
    per_example: list[list] = [[] for _ in examples]
    for f, (start, end) in enumerate(logits):
        per_example[int(features.example[f])].append((start, end, features.offsets[f]))
    return [decode_answer(ex.context, windows, **decoding) for ex, windows in zip(examples, per_example, strict=True)]


class QATask(FinetuneTask):
    """Extractive QA over `TaskData` of the "qa" family; evaluation sets are scored with SQuAD EM/F1."""

    family = "qa"

    def __init__(self, data: TaskData, tokenizer: Tokenizer, max_length: int = 384, doc_stride: int | None = None,
                 batch_size: int = 32, eval_batch_size: int = 64, n_best: int = 20, max_answer_length: int = 30,
                 null_threshold: float = 0.0) -> None:
        super().__init__(tokenizer, batch_size, eval_batch_size)
        doc_stride = default_stride(max_length) if doc_stride is None else doc_stride
        if doc_stride >= max_length // 2:
            raise WellreadError(f"--doc-stride {doc_stride} must be below half of --max-length {max_length} "
                                "(consecutive windows share that many context tokens)")
        self.data = data
        self.decoding = {"n_best": n_best, "max_answer_length": max_answer_length,
                         "allow_no_answer": data.version == "2.0", "null_threshold": null_threshold}
        self.train = build_features(tokenizer, data.train, max_length, doc_stride)
        self.lengths = np.array([len(r) for r in self.train.ids], dtype=np.int64)
        self.eval_sets = {name: (examples, build_features(tokenizer, examples, max_length, doc_stride))
                          for name, examples in data.evals.items()}
        self.no_answer_probabilities: dict[str, dict[str, float]] = {}

    def collate(self, indices: list[int], seed: int) -> dict[str, Tensor]:
        """Windows padded to the batch's longest, with their start/end targets."""
        batch = pad_inputs([self.train.ids[i] for i in indices], [self.train.types[i] for i in indices],
                           self.tok.pad_token_id)
        batch["starts"] = torch.from_numpy(self.train.starts[indices])  # (B,)
        batch["ends"] = torch.from_numpy(self.train.ends[indices])  # (B,)
        return batch

    def weight(self, batch: dict[str, Tensor]) -> float:
        """The loss is averaged over windows."""
        return float(len(batch["starts"]))

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Summed mean of the start and end cross-entropies (BERT's SQuAD loss)."""
        logits = forward(model, batch)  # (B, T, 2)
        start = F.cross_entropy(logits[..., 0], batch["starts"], reduction="sum")
        end = F.cross_entropy(logits[..., 1], batch["ends"], reduction="sum")
        return (start + end) / 2, {"tokens": float(batch["attention_mask"].sum())}

    def score(self, model: nn.Module) -> EvalReport:
        """Decoded answers and SQuAD EM/F1 of every evaluation set."""
        report = EvalReport(metrics={})
        for name, (examples, features) in self.eval_sets.items():
            answers = answer_all(model, self.tok, examples, features, self.eval_batch_size, **self.decoding)
            predictions = {ex.id: a.text for ex, a in zip(examples, answers, strict=True)}
            metrics = evaluate_squad(examples, predictions, self.data.version)
            if self.data.version == "2.0":
                pairs = list(zip(examples, answers, strict=True))
                metrics.update(best_null_thresholds({ex.id: a.best_span_text for ex, a in pairs},
                                                    {ex.id: a.null_margin for ex, a in pairs}, references(examples)))
            prefix = "" if name == self.data.name else f"{name}_"
            report.metrics.update({f"{prefix}{k}": v for k, v in metrics.items()
                                   if k in ("exact", "f1") or k.startswith("best_") or k.endswith(("_exact", "_f1"))})
            report.predictions[name] = [predictions[ex.id] for ex in examples]
            self.no_answer_probabilities[name] = {ex.id: a.no_answer_probability
                                                  for ex, a in zip(examples, answers, strict=True)}
            check = is_degenerate([a.text for a in answers])
            report.details[name] = {"questions": len(examples), "windows": len(features), "version": self.data.version,
                                    "degenerate": bool(check), "prediction": check.message}
            if check and len(examples) > 1:
                report.warnings.append(f"{name}: {check.message}")
        return report
