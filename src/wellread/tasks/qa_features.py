"""Extractive QA features and answer decoding (SQuAD v1.1 / v2.0), shared by fine-tuning and the answer pipeline.

Features: each question/context pair is cut into windows of `max_length` tokens that share `doc_stride`
context tokens (`Tokenizer.encode_windows_batch`, the same windows as `transformers`). A window's target is the
first answer's first and last token, found from the character offsets; a window that does not contain the
whole answer (and an unanswerable question) targets [CLS] (position 0), as BERT's SQuAD code does.

Decoding: per window the `n_best` highest start and end logits over context tokens form candidate spans (end
not before start, at most `max_answer_length` tokens); the best-scoring span (start + end logit) over all of
an example's windows is the answer, its text cut from the context by the offsets. For v2.0 the null score is
the [CLS] start + end logit (the lowest over windows); the answer is "" when the null score beats the best
span by more than `null_threshold`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wellread.tasks.qa import QAExample
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
