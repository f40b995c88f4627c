"""Token classification: a text in, its words with tags and (for BIO tag sets) the entities, with character spans.

    {"text": "John lives in New York."} -> {"entities": [{"type": "PER", "text": "John", "start": 0, "end": 4,
                                                          "score": 0.98}, {"type": "LOC", "text": "New York", ...}],
                                           "words": [{"word": "John", "start": 0, "end": 4, "tag": "B-PER",
                                                      "score": 0.98}, ...]}

Words are the tokenizer's words (split at whitespace and punctuation, as CoNLL tokens are), and a word's tag is
read at its first sub-word token, as the model was trained (`wellread.finetune.tagging`). Entities are grouped
from the word tags with seqeval's rules (the ones the entity scores use); an entity's score is the mean of its
words' tag probabilities and `text[start:end]` is its text. Words past `max_length` tokens are not tagged (note).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wellread.infer.pipeline import Pipeline, Record, softmax
from wellread.tokenizer import Encoding


def word_spans(enc: Encoding) -> list[tuple[int, int, int]]:
    """(first token position, start char, end char) of each word of an encoding, in order."""
    words: list[list[int]] = []
    previous = None
    for position, (word, (start, end)) in enumerate(zip(enc.word_ids, enc.offsets, strict=True)):
        if word is None:
            previous = None
            continue
        if word != previous:
            words.append([position, start, end])
            previous = word
        else:
            words[-1][2] = end
    return [(p, s, e) for p, s, e in words]


def is_bio(labels: list[str]) -> bool:
    """Whether a tag set is BIO-style (entities can be read from it)."""
    return any(label.startswith(("B-", "I-")) for label in labels)


class TagPipeline(Pipeline):
    task = "tag"
    fields = ("text",)
    default_max_length = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        id2label = self.config.id2label or {}
        self.labels = [id2label.get(i, str(i)) for i in range(self.config.num_labels)]
        self.bio = is_bio(self.labels)

    def predict(self, records: list[Record]) -> list[Record]:
        texts = [r["text"] for r in records]
        encs = self.tok.encode_batch(texts, max_length=self.max_length, truncation="longest_first")
        ids = [np.asarray(e.ids) for e in encs]
        logits = self.logits(ids, [np.zeros_like(r) for r in ids])
        return [self.output(text, enc, rows) for text, enc, rows in zip(texts, encs, logits, strict=True)]

    def output(self, text: str, enc: Encoding, logits: np.ndarray) -> Record:
        """Words with tags and scores, plus entities for BIO tag sets. logits: (L, C)."""
        spans = word_spans(enc)
        probs = softmax(logits[[p for p, _, _ in spans]]) if spans else np.zeros((0, len(self.labels)))  # (W, C)
        best = probs.argmax(-1) if spans else np.zeros(0, dtype=np.int64)
        words = [{"word": text[s:e], "start": s, "end": e, "tag": self.labels[int(k)], "score": float(p[k])}
                 for (_, s, e), k, p in zip(spans, best, probs, strict=True)]
        out: Record = {"words": words}
        if self.bio:
            out = {"entities": entities(text, words), **out}
        if enc.overflowing:
            out["note"] = self.truncation_note() + "; the words after the cut are not tagged"
        return out


def entities(text: str, words: list[Record]) -> list[Record]:
    """Entities (type, text, character span, mean word score) from tagged words, by seqeval's grouping."""
    from seqeval.metrics.sequence_labeling import get_entities

    found = []
    for kind, first, last in get_entities([w["tag"] for w in words]):
        start, end = words[first]["start"], words[last]["end"]
        score = float(np.mean([w["score"] for w in words[first:last + 1]]))
        found.append({"type": kind, "text": text[start:end], "start": start, "end": end, "score": score})
    return found
