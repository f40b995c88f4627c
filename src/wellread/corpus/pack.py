"""Pack a cleaned corpus into fixed-length, two-segment training sequences stored as memory-mapped shards.

Sequences are built as BERT's create_pretraining_data builds them: sentences of one document are gathered
until the target length, then split at a random sentence boundary into segments A and B (so
sentence-order prediction has real segment pairs); 10% of sequences get a shorter random target. By default
no sequence crosses a document. With `across_documents`, consecutive documents of a split share a sequence,
each separated from the next by a [SEP] token kept in the token stream (attention is not blocked between
them); the A/B cut is still made inside one document (at a sentence boundary, or mid-sentence when no document
in the sequence has two), so sentence-order pairs come from one document. Documents are assigned to the
validation split by a hash of their text, so the split is stable when the corpus grows.

On disk, per maximum length and split (`len128/train`, `len128/val`, ...):
  tokens.bin   all token ids, uint16 (uint32 for vocabularies over 65,536), no special tokens (with
               across_documents: [SEP] between two documents of one sequence)
  offsets.npy  int64 (N+1,): sequence i is tokens[offsets[i]:offsets[i+1]]
  a_lens.npy   int32 (N,): the length of segment A
  index.json   counts, dtype, max length, vocabulary size
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from wellread.errors import DataError
from wellread.options import option, positive
from wellread.textio import corpus_paths, read_documents
from wellread.tokenizer import Tokenizer

SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Lines, then sentence ends (.!? followed by space and a capital) within each line."""
    out = []
    for line in text.splitlines():
        out.extend(s.strip() for s in SENTENCE_END.split(line) if s.strip())
    return out


class SequenceWriter:
    """Appends sequences to one split folder; `close()` writes the index."""

    def __init__(self, folder: Path, vocab_size: int, max_length: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.max_length, self.vocab_size = folder, max_length, vocab_size
        self.dtype = np.uint16 if vocab_size <= 65536 else np.uint32
        self.file = open(folder / "tokens.bin", "wb")  # noqa: SIM115 (closed in close())
        self.lengths: list[int] = []
        self.a_lens: list[int] = []

    def add(self, a: list[int], b: list[int]) -> None:
        np.asarray(a + b, dtype=self.dtype).tofile(self.file)
        self.lengths.append(len(a) + len(b))
        self.a_lens.append(len(a))

    def close(self) -> dict:
        self.file.close()
        np.save(self.folder / "offsets.npy", np.concatenate([[0], np.cumsum(self.lengths, dtype=np.int64)]))
        np.save(self.folder / "a_lens.npy", np.asarray(self.a_lens, dtype=np.int32))
        index = {"sequences": len(self.lengths), "tokens": int(sum(self.lengths)), "max_length": self.max_length,
                 "dtype": np.dtype(self.dtype).name, "vocab_size": self.vocab_size}
        (self.folder / "index.json").write_text(json.dumps(index, indent=2) + "\n")
        return index


class PackedSequences:
    """Read-only view of a packed split: `len()`, and `pair(i) -> (segment A ids, segment B ids)`."""

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        if not (folder / "index.json").is_file():
            raise DataError(f"{folder} is not a packed split (no index.json); run `wellread corpus pack`")
        self.index = json.loads((folder / "index.json").read_text())
        self.tokens = np.memmap(folder / "tokens.bin", dtype=self.index["dtype"], mode="r")
        self.offsets = np.load(folder / "offsets.npy")
        self.a_lens = np.load(folder / "a_lens.npy")

    def __len__(self) -> int:
        return len(self.a_lens)

    @property
    def max_length(self) -> int:
        return self.index["max_length"]

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.offsets[i], self.offsets[i + 1]
        split = start + self.a_lens[i]
        return np.asarray(self.tokens[start:split], np.int64), np.asarray(self.tokens[split:end], np.int64)


def _truncate_pair(a: list[int], b: list[int], budget: int) -> None:
    while len(a) + len(b) > budget:
        longer = a if len(a) > len(b) else b
        longer.pop()


def document_sequences(sentences: list[list[int]], max_length: int, short_seq_prob: float,
                       rng: np.random.Generator) -> Iterator[tuple[list[int], list[int]]]:
    """(A, B) token pairs from one document's tokenized sentences; budget max_length - 3 for [CLS]/[SEP]x2."""
    budget = max_length - 3
    pieces = [s[i:i + budget] for s in sentences if s for i in range(0, len(s), budget)]  # no token is lost
    target = budget if rng.random() >= short_seq_prob else int(rng.integers(2, budget + 1))
    chunk: list[list[int]] = []
    length = 0
    for i, piece in enumerate(pieces):
        chunk.append(piece)
        length += len(piece)
        if length < target and i < len(pieces) - 1:
            continue
        if len(chunk) >= 2:
            cut = int(rng.integers(1, len(chunk)))
            a = [t for s in chunk[:cut] for t in s]
            b = [t for s in chunk[cut:] for t in s]
        else:  # one long sentence: its two halves are the segments
            whole = chunk[0]
            a, b = whole[:len(whole) // 2], whole[len(whole) // 2:]
        _truncate_pair(a, b, budget)
        if a and b:
            yield a, b
        chunk, length = [], 0
        target = budget if rng.random() >= short_seq_prob else int(rng.integers(2, budget + 1))


class DocumentStreamPacker:
    """Packs consecutive documents into sequences of at most max_length - 3 stored tokens, a [SEP] id between
    two documents; `add()` one document's sentences at a time, `finish()` at the end. Unlike
    `document_sequences` a piece that would overshoot starts the next sequence, so nothing is truncated; only
    a sequence with no piece of two tokens (no A/B cut inside one document) is dropped (counted in `dropped`)."""

    def __init__(self, writer: SequenceWriter, max_length: int, short_seq_prob: float, sep_id: int,
                 rng: np.random.Generator) -> None:
        self.writer, self.budget, self.short_seq_prob, self.sep_id, self.rng = (
            writer, max_length - 3, short_seq_prob, sep_id, rng)
        self.pieces: list[tuple[int, list[int]]] = []  # (document number, piece) of the open sequence
        self.length = 0  # stored tokens of the open sequence, separators included
        self.documents = self.separators = self.dropped = 0
        self.target = self._target()

    def _target(self) -> int:
        return self.budget if self.rng.random() >= self.short_seq_prob else int(self.rng.integers(2, self.budget + 1))

    def add(self, sentences: list[list[int]]) -> None:
        pieces = [s[i:i + self.budget] for s in sentences if s for i in range(0, len(s), self.budget)]
        self.documents += 1
        for k, piece in enumerate(pieces):
            cost = len(piece) + (k == 0 and bool(self.pieces))  # a new document after another: one [SEP]
            if self.pieces and self.length + cost > self.target:
                self._emit()
                cost = len(piece)
            self.pieces.append((self.documents, piece))
            self.length += cost
            if self.length >= self.target:
                self._emit()

    def finish(self) -> None:
        if self.pieces:
            self._emit()

    def _join(self, pieces: list[tuple[int, list[int]]]) -> list[int]:
        out: list[int] = []
        for j, (doc, piece) in enumerate(pieces):
            if j and doc != pieces[j - 1][0]:
                out.append(self.sep_id)
                self.separators += 1
            out.extend(piece)
        return out

    def _emit(self) -> None:
        pieces, self.pieces, self.length, self.target = self.pieces, [], 0, self._target()
        cuts = [j for j in range(1, len(pieces)) if pieces[j][0] == pieces[j - 1][0]]  # sentence ends in a document
        if cuts:
            cut = cuts[int(self.rng.integers(len(cuts)))]
        else:  # no document with two pieces here: cut one piece of two or more tokens in halves
            long = [j for j, (_, piece) in enumerate(pieces) if len(piece) >= 2]
            if not long:
                self.dropped += sum(len(piece) for _, piece in pieces)
                return
            j = long[int(self.rng.integers(len(long)))]
            doc, piece = pieces[j]
            pieces[j:j + 1] = [(doc, piece[:len(piece) // 2]), (doc, piece[len(piece) // 2:])]
            cut = j + 1
        self.writer.add(self._join(pieces[:cut]), self._join(pieces[cut:]))


def fill_report(index: dict, text_tokens_in: int, separators: int) -> dict:
    """Fill rate of one packed split: real tokens ([CLS], the two [SEP]s and the stored ids, separators included)
    over sequences x max_length; and the input's text tokens against those written (the rest was truncated)."""
    n, length = index["sequences"], index["max_length"]
    real = index["tokens"] + 3 * n
    written = index["tokens"] - separators
    return {"sequences": n, "real_tokens": real, "fill_rate": round(real / (n * length), 6) if n else 0.0,
            "text_tokens_in": text_tokens_in, "text_tokens_written": written, "truncated": text_tokens_in - written,
            "separators": separators}


@dataclass
class PackReport:
    documents: int = 0
    validation_documents: int = 0
    sentences: int = 0
    splits: dict[str, dict] = field(default_factory=dict)
    fill: dict[str, dict] = field(default_factory=dict)  # per split: see fill_report


def pack(documents: Iterable[str], tokenizer: Tokenizer, out_dir: Path, max_lengths: list[int],
         val_permille: int = 10, short_seq_prob: float = 0.1, seed: int = 0, batch_docs: int = 512,
         progress: bool = True, across_documents: bool = False) -> PackReport:
    """Tokenize documents and write `len{L}/{train,val}` for each maximum length L (across_documents: several
    documents per sequence, see DocumentStreamPacker)."""
    report = PackReport()
    writers = {(L, split): SequenceWriter(out_dir / f"len{L}" / split, tokenizer.vocab_size, L)
               for L in max_lengths for split in ("train", "val")}
    streams = {key: DocumentStreamPacker(w, key[0], short_seq_prob, tokenizer.sep_token_id,
                                         np.random.default_rng([seed, key[0], key[1] == "val"]))
               for key, w in writers.items()} if across_documents else {}
    tokens_in = dict.fromkeys(writers, 0)
    backend = tokenizer.backend
    bar = tqdm(desc="pack", unit=" docs", disable=not progress)

    def flush(docs: list[str]) -> None:
        per_doc = [split_sentences(d) for d in docs]
        flat = [s for sents in per_doc for s in sents]
        ids = [e.ids for e in backend.encode_batch(flat, add_special_tokens=False)] if flat else []
        pos = 0
        for doc, sents in zip(docs, per_doc, strict=True):
            doc_ids, pos = ids[pos:pos + len(sents)], pos + len(sents)
            split = "val" if zlib.crc32(doc.encode("utf-8")) % 1000 < val_permille else "train"
            report.documents += 1
            report.validation_documents += split == "val"
            report.sentences += len(sents)
            rng = np.random.default_rng([seed, report.documents])
            for L in max_lengths:
                tokens_in[(L, split)] += sum(len(s) for s in doc_ids)
                if across_documents:
                    streams[(L, split)].add(doc_ids)
                    continue
                for a, b in document_sequences(doc_ids, L, short_seq_prob, rng):
                    writers[(L, split)].add(a, b)
        bar.update(len(docs))

    batch: list[str] = []
    for doc in documents:
        batch.append(doc)
        if len(batch) >= batch_docs:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    bar.close()
    for stream in streams.values():
        stream.finish()
    for (L, split), writer in writers.items():
        report.splits[f"len{L}/{split}"] = index = writer.close()
        separators = streams[(L, split)].separators if across_documents else 0
        report.fill[f"len{L}/{split}"] = fill_report(index, tokens_in[(L, split)], separators)
    tokenizer.save(out_dir / "tokenizer")
    (out_dir / "pack_report.json").write_text(json.dumps(report.__dict__, indent=2) + "\n")
    return report


@dataclass(kw_only=True)
class PackOptions:
    """Options of `wellread corpus pack` and of a recipe's pack stage (which takes `corpus` from the corpus stage
    and `tokenizer` from the tokenizer stage unless `vocab_size` asks for a fresh vocabulary)."""

    corpus: list[str] | None = option(None, positional=True, cli_required=True, metavar="INPUT",
                                      help="a `corpus build` folder, *.jsonl[.gz] shards or plain text files "
                                           "(blank-line documents) (a recipe: default the previous stage's corpus)")
    out: Path | None = option(None, cli_required=True, help="output folder")
    tokenizer: str | None = option(None, help="an existing vocabulary (folder, vocab.txt or tokenizer.json; a recipe: "
                                              "default the previous stage's tokenizer)")
    vocab_size: int | None = option(None, help="train a fresh uncased WordPiece vocabulary of this size on the corpus "
                                                  "(instead of --tokenizer)")
    min_frequency: int = option(2, help="with --vocab-size: least count of a pair for it to be merged")
    max_length: list[int] = option([128], help="sequence lengths to pack, e.g. 128 512 for two-phase pretraining")
    val_permille: int = option(10, help="documents per thousand held out for validation")
    short_seq_prob: float = option(0.1, help="share of sequences given a shorter random length, as BERT")
    seed: int = option(0, help="random seed")
    across_documents: bool = option(False, help="pack several documents into one sequence, [SEP] between them "
                                                "(attention not blocked; sentence-order pairs still from one "
                                                "document): fuller sequences from short documents")
    progress: bool = option(True, help="no progress bar")

    def check(self) -> list[tuple[str, str]]:
        """(field, problem) pairs: lengths out of range, a vocabulary both given and asked for, bad counts."""
        bad = [n for n in self.max_length if not 8 <= n <= 4096]
        problems = [("max_length", f"values must be in 8..4096, got {bad}")] if bad else []
        if self.tokenizer is not None and self.vocab_size is not None:
            problems.append(("vocab_size", "give an existing tokenizer or a vocab_size to train one, not both"))
        problems += positive(self, "vocab_size")
        if self.min_frequency < 0:
            problems.append(("min_frequency", f"must be >= 0, got {self.min_frequency}"))
        if not 0 <= self.val_permille <= 1000:
            problems.append(("val_permille", f"must be in 0..1000, got {self.val_permille}"))
        return problems


def pack_corpus(opts: PackOptions) -> PackReport:
    """`wellread corpus pack`: the corpus's documents packed into `opts.out` with `opts.tokenizer`, or with a
    vocabulary of `opts.vocab_size` tokens trained on them first."""
    if opts.tokenizer is None and opts.vocab_size is None:
        raise DataError("give --tokenizer (an existing vocabulary) or --vocab-size (train one on the corpus)")
    paths = corpus_paths(opts.corpus or [])
    if opts.tokenizer is not None:
        tokenizer = Tokenizer.load(Path(opts.tokenizer))
    else:
        print(f"training a {opts.vocab_size}-token WordPiece vocabulary on {len(paths)} file(s)")
        tokenizer = Tokenizer.train(read_documents(paths), vocab_size=opts.vocab_size,
                                    min_frequency=opts.min_frequency, show_progress=opts.progress)
    return pack(read_documents(paths), tokenizer, Path(opts.out), opts.max_length, val_permille=opts.val_permille,
                short_seq_prob=opts.short_seq_prob, seed=opts.seed, progress=opts.progress,
                across_documents=opts.across_documents)
