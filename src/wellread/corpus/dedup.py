"""Exact and near-duplicate detection, and n-gram decontamination against evaluation text.

Memory: these are the only structures of a build that grow with the input, and they grow with the number of
KEPT documents only: `ExactDedup` holds one 8-byte digest per kept document (about 70 bytes with Python's set
overhead), `NearDedup` one 64-bit key per LSH band (9 bands at the defaults, about 0.6 kB per kept document);
`corpus build --no-near-dedup` drops the latter.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable

import numpy as np
from datasketch import MinHash, MinHashLSH

from wellread.corpus.clean import words_of

__all__ = ["ExactDedup", "LshBanding", "NearDedup", "NgramIndex", "digest", "minhash_signature", "ngram_hashes"]

_SEED = 1


def digest(text: str) -> int:
    """64-bit digest of (normalised) text: the key of exact de-duplication."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class ExactDedup:
    """A set of digests of the documents kept so far."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def __contains__(self, key: int) -> bool:
        return key in self._seen

    def add(self, key: int) -> None:
        """Remember the digest of a kept document."""
        self._seen.add(key)

    def __len__(self) -> int:
        return len(self._seen)


_SKETCHES: dict[int, MinHash] = {}


def _sketch(num_perm: int) -> MinHash:
    """A reusable MinHash per process (building one per document costs ~90 us of permutation set-up): cleared
    before each use. Shingles are hashed with CRC-32 (datasketch mixes it with a murmur finaliser and its affine
    permutations); it is 3x faster than datasketch's default SHA-1 and as good for sets of a few thousand
    shingles."""
    if num_perm not in _SKETCHES:
        _SKETCHES[num_perm] = MinHash(num_perm=num_perm, seed=_SEED, hashfunc=zlib.crc32)
    return _SKETCHES[num_perm]


def minhash_signature(text: str, num_perm: int = 128, shingle: int = 5) -> np.ndarray:
    """MinHash signature (datasketch, `num_perm` uint32 values) of the set of lower-cased word `shingle`-grams of
    `text`; a document shorter than one shingle is a single shingle of all its words."""
    words = words_of(text)
    if len(words) <= shingle:
        shingles = {" ".join(words)}
    else:
        shingles = {" ".join(words[i:i + shingle]) for i in range(len(words) - shingle + 1)}
    m = _sketch(num_perm)
    m.clear()
    m.update_batch([s.encode("utf-8") for s in shingles])
    return m.hashvalues.copy()


class LshBanding:
    """LSH banding of MinHash signatures: `b` bands of `r` rows, chosen by datasketch's MinHashLSH to minimise the
    false positive + false negative probability at `threshold`; each band is hashed to one 64-bit key (a sum of
    products with random odd 64-bit multipliers, different per band, so keys of different bands never mix)."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128) -> None:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.b, self.r = lsh.b, lsh.r
        rng = np.random.default_rng(_SEED)
        self._multipliers = rng.integers(1, 1 << 63, size=(self.b, self.r), dtype=np.uint64) * 2 + 1

    def keys(self, signature: np.ndarray) -> list[int]:
        """The b band keys of one signature."""
        bands = signature[: self.b * self.r].reshape(self.b, self.r).astype(np.uint64)
        return (bands * self._multipliers).sum(axis=1, dtype=np.uint64).tolist()


class NearDedup:
    """Near-duplicate index over the kept documents: a document whose MinHash shares a band (see `LshBanding`) with
    a kept one is a near duplicate, i.e. its shingle-set Jaccard similarity with it is likely >= the threshold.
    A band collision is the verdict (no second Jaccard check), as in common LSH dedup pipelines.

    Same banding as datasketch's MinHashLSH, stored leaner: one set of 64-bit band keys (about 0.6 kB per kept
    document at 9 bands, against 3.4 kB and ~50 us per document for MinHashLSH's dict of sets, measured)."""

    def __init__(self) -> None:
        self._keys: set[int] = set()
        self._kept = 0

    def seen_or_add(self, band_keys: list[int]) -> bool:
        """True if a kept document shares a band key; otherwise index these keys and return False."""
        if not self._keys.isdisjoint(band_keys):
            return True
        self._keys.update(band_keys)
        self._kept += 1
        return False

    def __len__(self) -> int:
        return self._kept


def ngram_hashes(text: str, n: int) -> Iterable[int]:
    """64-bit hashes of the lower-cased word n-grams of `text` (all of its words if it has fewer than n)."""
    words = words_of(text)
    if not words:
        return []
    grams = [words] if len(words) < n else (words[i:i + n] for i in range(len(words) - n + 1))
    return (digest(" ".join(g)) for g in grams)


class NgramIndex:
    """Word n-grams of evaluation text; a training document sharing any of them is `contaminated`
    (GPT-3 used 13-grams)."""

    def __init__(self, n: int = 13) -> None:
        self.n = n
        self.hashes: set[int] = set()

    def add(self, text: str) -> None:
        self.hashes.update(ngram_hashes(text, self.n))

    def contains_any(self, text: str) -> bool:
        """True if `text` shares at least one n-gram with the indexed text."""
        return not self.hashes.isdisjoint(ngram_hashes(text, self.n))

    def __len__(self) -> int:
        return len(self.hashes)
