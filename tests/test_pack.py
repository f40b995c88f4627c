"""`corpus pack`: the fill-rate report, and packing several documents into one sequence (--across-documents)."""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import numpy as np
import pytest

from wellread.cli import main
from wellread.corpus.pack import DocumentStreamPacker, PackedSequences, pack, split_sentences
from wellread.textio import read_documents
from wellread.tokenizer import Tokenizer
from wellread.train.pretraining import MaskingOptions, PretrainingTask

WORDS = ("the", "cat", "dog", "sat", "on", "mat", "ran", "far", "away", "house", "garden", "tree", "river",
         "unbelievable", "extraordinary", "walked", "jumped")


def write_short_corpus(folder: Path, docs: int = 200, seed: int = 0) -> Path:
    """Short documents (one to three sentences of 2-8 words), as the snapshot's glosses and paragraphs."""
    rng = random.Random(seed)
    paragraphs = [" ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8))).capitalize() + "."
                           for _ in range(rng.randint(1, 3))) for _ in range(docs)]
    path = folder / "corpus.txt"
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Tokenizer]:
    root = tmp_path_factory.mktemp("pack")
    path = write_short_corpus(root)
    return path, Tokenizer.train([str(path)], vocab_size=100, min_frequency=1, show_progress=False)


def packed(corpus: tuple[Path, Tokenizer], out: Path, across: bool) -> dict:
    path, tok = corpus
    pack(read_documents([path]), tok, out, [64, 128], val_permille=100, progress=False, across_documents=across)
    return json.loads((out / "pack_report.json").read_text())


def text_ids(corpus: tuple[Path, Tokenizer], split: str) -> list[int]:
    """The input's token ids of one split, in document order (the split is chosen by the pack report's rule)."""
    path, tok = corpus
    docs = [d for d in read_documents([path]) if (zlib.crc32(d.encode()) % 1000 < 100) == (split == "val")]
    return [t for d in docs for s in split_sentences(d) for t in tok.backend.encode(s, add_special_tokens=False).ids]


def test_fill_rate_is_real_tokens_over_sequences_times_length(corpus, tmp_path: Path) -> None:
    for across in (False, True):
        report = packed(corpus, tmp_path / str(across), across)
        for name, fill in report["fill"].items():
            data = PackedSequences(tmp_path / str(across) / name)
            n, length = len(data), data.max_length
            assert fill["sequences"] == n > 0
            assert fill["real_tokens"] == int(data.offsets[-1]) + 3 * n  # [CLS] A [SEP] B [SEP]
            assert fill["fill_rate"] == pytest.approx((int(data.offsets[-1]) + 3 * n) / (n * length), abs=1e-6)


def test_across_documents_fills_short_documents_and_keeps_every_token(corpus, tmp_path: Path) -> None:
    one, many = packed(corpus, tmp_path / "one", False), packed(corpus, tmp_path / "many", True)
    sep = corpus[1].sep_token_id
    for name in one["fill"]:
        assert many["fill"][name]["fill_rate"] > 1.5 * one["fill"][name]["fill_rate"]
        assert many["fill"][name]["sequences"] < one["fill"][name]["sequences"]
        data = PackedSequences(tmp_path / "many" / name)
        stored = np.asarray(data.tokens).tolist()
        assert all(len(data.pair(i)[0]) + len(data.pair(i)[1]) <= data.max_length - 3 for i in range(len(data)))
        assert [t for t in stored if t != sep] == text_ids(corpus, name.split("/")[1])  # all, in order
        assert many["fill"][name]["truncated"] == 0
        assert many["fill"][name]["separators"] == stored.count(sep) > 0
        # one document per sequence: the report counts what was cut off (by the shorter random targets)
        written = int(PackedSequences(tmp_path / "one" / name).offsets[-1])
        assert one["fill"][name]["truncated"] == len(text_ids(corpus, name.split("/")[1])) - written
        assert one["fill"][name]["separators"] == 0


def test_sentence_order_pairs_come_from_one_document() -> None:
    """Each document's token ids are its own (doc d's tokens are 100 d + k): A ends and B starts in one document."""
    docs = [[[100 * d + k for k in range(s * 3, s * 3 + 3)] for s in range(d % 3 + 1)] for d in range(1, 60)]
    rows: list[tuple[list[int], list[int]]] = []

    class Rows:
        def add(self, a: list[int], b: list[int]) -> None:
            rows.append((a, b))

    for seed in range(3):
        rows.clear()
        stream = DocumentStreamPacker(Rows(), 16, 0.1, sep_id=0, rng=np.random.default_rng(seed))  # type: ignore[arg-type]
        for doc in docs:
            stream.add(doc)
        stream.finish()
        assert rows and stream.dropped == 0
        for a, b in rows:
            assert a[-1] and b[0] and a[-1] // 100 == b[0] // 100  # no [SEP] (0) at the cut; one document
            assert len(a) + len(b) <= 13
        assert any(0 in a + b for a, b in rows)  # documents do share sequences


def test_corpus_pack_cli_across_documents_prints_the_fill_rate(corpus, tmp_path: Path, capsys) -> None:
    path, tok = corpus
    tok.save(tmp_path / "tok")
    out = tmp_path / "out"
    assert main(["corpus", "pack", str(path), "--tokenizer", str(tmp_path / "tok"), "--max-length", "32",
                 "--across-documents", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "len32/train:" in printed and "fill " in printed and "% of 32, 0 tokens truncated" in printed
    assert json.loads((out / "pack_report.json").read_text())["fill"]["len32/train"]["separators"] > 0


def test_training_reads_across_document_sequences_and_never_masks_their_separators(corpus, tmp_path: Path) -> None:
    packed(corpus, tmp_path, across=True)
    tok = corpus[1]
    data = PackedSequences(tmp_path / "len64" / "train")
    task = PretrainingTask(data, None, tok, MaskingOptions(sentence_order=True, rate=0.5))
    batch = task.collate(list(range(len(data))), seed=0)
    unmasked_seps = (batch["input_ids"] == tok.sep_token_id) & ~batch["masked_positions"]  # (B, T)
    inner = unmasked_seps.sum(1) - 2  # the separators stored between documents, all kept as they are
    assert int(inner.sum()) == np.asarray(data.tokens).tolist().count(tok.sep_token_id) > 0
    assert not (batch["mlm_labels"] == tok.sep_token_id).any()
