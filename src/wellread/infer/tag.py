"""Token classification: a text (or pre-split words) in, tagged words and (BIO tag sets) entities with character spans.

    {"text": "John lives in New York."} -> {"entities": [{"type": "PER", "text": "John", "start": 0, "end": 4,
                                                          "score": 0.98}, {"type": "LOC", "text": "New York", ...}],
                                           "words": [{"index": 0, "word": "John", "start": 0, "end": 4,
                                                      "tag": "B-PER", "score": 0.98}, ...]}
    {"tokens": ["John", "lives", "in", "New", "York", "."]}   (CoNLL-style words, joined with spaces)

A text's words are the tokenizer's (split at whitespace and punctuation, as CoNLL tokens are); given tokens are
used as they are. Each word is tagged at its first sub-word token, exactly as fine-tuning trains and evaluates
(`wellread.tasks.tag_features`); `index` is the word's position. Entities are grouped from the word tags with
seqeval's rules (those of the entity scores); an entity's score is the mean of its words' tag probabilities and
`text[start:end]` is its text. Words past `max_length` tokens are not tagged, and the output says so (note).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from wellread.errors import WellreadError
from wellread.infer.pipeline import Pipeline, Record, softmax
from wellread.tasks.tag_features import first_subwords, word_starts
from wellread.tokenizer import Encoding


def word_spans(enc: Encoding) -> list[tuple[int, int]]:
    """(start char, end char) of each word of an encoding (the tokenizer's words), in order."""
    spans: list[list[int]] = []
    previous = None
    for word, (start, end) in zip(enc.word_ids, enc.offsets, strict=True):
        if word is not None and word == previous:
            spans[-1][1] = end
        elif word is not None:
            spans.append([start, end])
        previous = word
    return [(s, e) for s, e in spans]


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

    def parse(self, item: str | Mapping[str, Any], where: str = "input") -> Record:
        """A text, or {"tokens": [...]} (pre-split words, CoNLL style: joined with spaces to a text)."""
        if isinstance(item, Mapping) and "tokens" in item and "text" not in item:
            tokens = item["tokens"]
            if not isinstance(tokens, list) or not all(isinstance(t, str) and t.strip() for t in tokens):
                raise WellreadError(f"{where}: field 'tokens' must be a list of non-empty strings")
            item = {**item, "text": word_starts(tokens)[0]}
        return super().parse(item, where)

    def predict(self, records: list[Record]) -> list[Record]:
        encs = self.tok.encode_batch([r["text"] for r in records], max_length=self.max_length,
                                     truncation="longest_first")
        ids = [np.asarray(e.ids) for e in encs]
        logits = self.logits(ids, [np.zeros_like(r) for r in ids])
        return [self.output(r, enc, rows) for r, enc, rows in zip(records, encs, logits, strict=True)]

    def output(self, record: Record, enc: Encoding, logits: np.ndarray) -> Record:
        """Tagged words (and entities for BIO tag sets). logits: (L, C)."""
        text = record["text"]
        if "tokens" in record:
            starts = word_starts(record["tokens"])[1]
            spans = [(int(s), int(s) + len(t)) for s, t in zip(starts, record["tokens"], strict=True)]
        else:
            spans = word_spans(enc)
            starts = np.array([s for s, _ in spans], dtype=np.int64)
        firsts = first_subwords(enc.offsets, enc.special_tokens_mask, starts)  # (K, 2) token position, word index
        probs = softmax(logits[firsts[:, 0]])  # (K, C)
        words = []
        for (_, index), p in zip(firsts, probs, strict=True):
            start, end = spans[index]
            best = int(p.argmax())
            words.append({"index": int(index), "word": text[start:end], "start": start, "end": end,
                          "tag": self.labels[best], "score": float(p[best])})
        out: Record = {"words": words}
        if self.bio:
            out = {"entities": entities(text, words), **out}
        if len(words) < len(spans):
            out["note"] = (f"{len(spans) - len(words)} of {len(spans)} words not tagged (past --max-length "
                           f"{self.max_length} tokens, or without a token)")
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
