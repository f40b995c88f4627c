"""Normalisation and Gopher-style quality filters for one document of text.

`normalise(text)` is applied first; `QualityFilter(config).check(text)` then returns the name of the first rule the
document fails (one of `FILTER_REASONS`) or None when it passes every rule. The rules follow Rae et al. 2021
(Gopher, appendix A), with thresholds as options; the "is it English" test is the share of common English
stopwords among the words.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from wellread.options import option

__all__ = ["FILTER_REASONS", "FilterConfig", "QualityFilter", "normalise", "words_of"]

FILTERS = "filters (a document failing one is removed, reason in report.json)"
FILTER_REASONS: tuple[str, ...] = (
    "too_short", "too_long", "alpha_ratio", "symbol_ratio", "duplicate_lines", "top_ngram", "duplicate_ngram",
    "not_english",
)
"""Removal reasons produced by `QualityFilter.check`, in the order the rules are tried."""

# C0 and C1 control characters except tab (\x09) and newline (\x0a); \r is turned into \n before this runs.
# Also the byte-order mark and zero-width space, which are invisible and break word matching.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u200b]")
_HSPACE_RE = re.compile(r"[^\S\n]+")  # any whitespace except newline (tabs included)
_NON_LETTER_RE = re.compile(r"[\W\d_]+")  # anything but letters (any script)
_WORD_RE = re.compile(r"\w+")

_STOPWORDS = """
a about after all also an and any are as at be been but by can could did do does for from had has have he her
him his how i if in into is it its just like may me more most my no not now of on one only or other our out over
she so some such than that the their them then there these they this those to up us was we were what when which
who will with would you your thou thee thy shall
"""
ENGLISH_STOPWORDS: frozenset[str] = frozenset(_STOPWORDS.split())
"""Common English function words; the language test needs a share of these among a document's words."""


def normalise(text: str) -> str:
    """Unicode NFC, line ends to \\n, control characters removed, whitespace runs inside a line collapsed to one
    space, lines stripped and empty lines dropped (so a blank line can separate documents in text output)."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    text = _HSPACE_RE.sub(" ", text)
    return "\n".join(line for line in (raw.strip() for raw in text.split("\n")) if line)


def words_of(text: str) -> list[str]:
    """Lower-cased word tokens (runs of letters, digits and underscores) used by the repetition rules,
    shingling and decontamination: independent of how the source tokenised punctuation."""
    return _WORD_RE.findall(text.lower())


def _floats(values: str | tuple[float, ...]) -> tuple[float, ...]:
    return tuple(float(v) for v in values.split(",")) if isinstance(values, str) else tuple(values)


@dataclass(kw_only=True)
class FilterConfig:
    """Thresholds of the quality rules, each one a `corpus build` option. A minimum of 0 turns its rule off, and so
    does a maximum of 1 for the shares (`max_words` 0 means no upper limit)."""

    min_chars: int = option(20, group=FILTERS, help="fewer characters -> too_short")
    min_words: int = option(5, group=FILTERS, help="fewer words -> too_short (Gopher used 50 on web pages; "
                                                   "paragraphs, speeches and glosses are shorter and still good MLM "
                                                   "text; default 5)")
    max_words: int = option(100_000, group=FILTERS, help="more words -> too_long; 0 = no limit")
    min_alpha_ratio: float = option(0.6, group=FILTERS, help="minimum share of letters among non-space characters "
                                                             "-> alpha_ratio (tables of numbers, code)")
    max_symbol_ratio: float = option(0.1, group=FILTERS, help="maximum ('#' + ellipses) per word -> symbol_ratio")
    max_dup_line_fraction: float = option(0.3, group=FILTERS, help="maximum share of repeated lines -> "
                                                                   "duplicate_lines")
    max_dup_line_char_fraction: float = option(0.2, group=FILTERS, help="maximum share of characters in repeated "
                                                                        "lines -> duplicate_lines")
    top_ngram_thresholds: tuple[float, ...] = option((0.20, 0.18, 0.16), group=FILTERS, comma=True,
                                                     help="maximum character share of the most frequent 2-,3-,4-gram "
                                                          "-> top_ngram (comma-separated)")
    dup_ngram_thresholds: tuple[float, ...] = option((0.15, 0.14, 0.13, 0.12, 0.11, 0.10), group=FILTERS, comma=True,
                                                     help="maximum character share of repeated 5- to 10-grams -> "
                                                          "duplicate_ngram (comma-separated)")
    ngram_min_words: int = option(50, group=FILTERS, help="apply the two n-gram rules from this many words on "
                                                          "(Gopher's own minimum: on shorter documents a name said "
                                                          "twice already crosses the thresholds)")
    min_stopword_ratio: float = option(0.05, group=FILTERS, help="English test: minimum share of common English "
                                                                 "stopwords -> not_english; 0 = off")

    def __post_init__(self) -> None:
        self.top_ngram_thresholds = _floats(self.top_ngram_thresholds)
        self.dup_ngram_thresholds = _floats(self.dup_ngram_thresholds)

    def validate(self) -> list[str]:
        """Problems with the values, as messages naming the option (empty when all are valid)."""
        errors = []
        for name in ("min_chars", "min_words", "max_words", "ngram_min_words"):
            if getattr(self, name) < 0:
                errors.append(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.max_symbol_ratio < 0:
            errors.append(f"--max-symbol-ratio must be >= 0, got {self.max_symbol_ratio}")
        for name in ("min_alpha_ratio", "max_dup_line_fraction", "max_dup_line_char_fraction",
                     "min_stopword_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                errors.append(f"--{name.replace('_', '-')} must be in [0, 1], got {value}")
        for name in ("top_ngram_thresholds", "dup_ngram_thresholds"):
            if any(not 0.0 <= v <= 1.0 for v in getattr(self, name)):
                errors.append(f"--{name.replace('_', '-')} values must be in [0, 1], got {getattr(self, name)}")
        if self.max_words and self.max_words < self.min_words:
            errors.append(f"--max-words {self.max_words} is below --min-words {self.min_words}")
        return errors


@dataclass
class QualityFilter:
    """Applies the rules of a `FilterConfig` to normalised text."""

    config: FilterConfig = field(default_factory=FilterConfig)

    def check(self, text: str) -> str | None:
        """The first rule `text` fails (a name from `FILTER_REASONS`), or None if it passes them all."""
        c = self.config
        tokens = text.split()
        n = len(tokens)
        if len(text) < c.min_chars or n < c.min_words or n == 0:
            return "too_short"
        if c.max_words and n > c.max_words:
            return "too_long"
        visible = len(text) - text.count(" ") - text.count("\n")
        if visible and len(_NON_LETTER_RE.sub("", text)) / visible < c.min_alpha_ratio:
            return "alpha_ratio"
        symbols = text.count("#") + text.count("...") + text.count("\u2026")
        if symbols / n > c.max_symbol_ratio:
            return "symbol_ratio"
        if "\n" in text and self._duplicate_lines(text):
            return "duplicate_lines"
        words = words_of(text)
        if len(words) >= max(c.ngram_min_words, 2):
            chars = sum(map(len, words))
            if self._top_ngram(words, chars):
                return "top_ngram"
            if self._duplicate_ngram(words, chars):
                return "duplicate_ngram"
        if c.min_stopword_ratio and words:
            hits = sum(1 for w in words if w in ENGLISH_STOPWORDS)
            if hits / len(words) < c.min_stopword_ratio:
                return "not_english"
        return None

    def _duplicate_lines(self, text: str) -> bool:
        lines = text.split("\n")
        seen: set[str] = set()
        dup_lines = dup_chars = 0
        for line in lines:
            if line in seen:
                dup_lines += 1
                dup_chars += len(line)
            else:
                seen.add(line)
        return (dup_lines / len(lines) > self.config.max_dup_line_fraction
                or dup_chars / len(text) > self.config.max_dup_line_char_fraction)

    def _top_ngram(self, words: list[str], chars: int) -> bool:
        for n, limit in enumerate(self.config.top_ngram_thresholds, start=2):
            if len(words) < n:
                break
            gram, count = Counter(zip(*(words[i:] for i in range(n)), strict=False)).most_common(1)[0]
            if count > 1 and count * sum(map(len, gram)) / chars > limit:
                return True
        return False

    def _duplicate_ngram(self, words: list[str], chars: int) -> bool:
        thresholds = self.config.dup_ngram_thresholds
        for k, limit in enumerate(thresholds):
            n = 5 + k
            if len(words) < n:
                break
            grams = list(zip(*(words[i:] for i in range(n)), strict=False))
            counts = Counter(grams)
            if len(counts) == len(grams):
                return False  # no repeated n-gram, so no repeated longer one either
            covered = bytearray(len(words))
            for i, gram in enumerate(grams):
                if counts[gram] > 1:
                    covered[i:i + n] = b"\x01" * n
            share = sum(len(w) for w, hit in zip(words, covered, strict=True) if hit) / chars
            if share > limit:
                return True
            if share <= min(thresholds[k:]):
                return False  # the share can only shrink as n grows
        return False
