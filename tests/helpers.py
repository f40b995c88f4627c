"""Helpers the test modules share (not a test module): the CLI, tiny task files, tiny random BERTs, DDP runs.

Task files are small and seeded: GLUE-style SST-2 TSVs, SQuAD JSON whose contexts need several windows, CoNLL
files. Models are random BERTs a few layers deep and 32 wide, saved with a tokenizer's vocabulary.
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp

from wellread.cli import main
from wellread.config import BertConfig
from wellread.models import build_model
from wellread.models.checkpoint import save_model
from wellread.tokenizer import Tokenizer

POSITIVE = ["a great film", "wonderful acting and a fine story", "i loved it", "superb , moving and funny",
            "the best movie of the year", "delightful"]
NEGATIVE = ["a dull film", "terrible acting and a thin story", "i hated it", "boring , slow and silly",
            "the worst movie of the year", "awful"]
CONTEXT_WORDS = ["the", "river", "flows", "past", "old", "mills", "and", "quiet", "farms", "toward", "the",
                 "distant", "sea"]
CONLL_SENTENCES = [
    [("Thabo", "B-PER"), ("Mbeki", "I-PER"), ("visited", "O"), ("KwaZulu-Natal", "B-LOC"), (".", "O")],
    [("Johannesburg", "B-LOC"), ("hosts", "O"), ("the", "O"), ("Nkandla", "B-MISC"), ("Cup", "I-MISC")],
    [("Acme", "B-ORG"), ("Corp", "I-ORG"), ("hired", "O"), ("Zuma", "B-PER"), ("yesterday", "O")],
]


def run_cli(*args: str | Path | int | float) -> int:
    """`wellread ARGS...` in this process; its exit status."""
    return main([str(a) for a in args])


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` (creating its folder) in `encoding`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def sst2_tsv(n: int, rng: random.Random, positive: Sequence[str] = POSITIVE,
             negative: Sequence[str] = NEGATIVE) -> str:
    """An SST-2 TSV (header `sentence<TAB>label`, GLUE's space before the tab) of `n` rows, negative (0) and
    positive (1) in turn, each sentence drawn by `rng`."""
    rows = [(rng.choice(positive), 1) if i % 2 else (rng.choice(negative), 0) for i in range(n)]
    return "sentence\tlabel\n" + "".join(f"{s} \t{y}\n" for s, y in rows)


def write_sst2(folder: Path, sizes: Sequence[tuple[str, int]] = (("train", 48), ("dev", 20)), seed: int = 0,
               positive: Sequence[str] = POSITIVE, negative: Sequence[str] = NEGATIVE) -> Path:
    """`folder` with an SST-2 TSV per (split, rows) of `sizes` (see `sst2_tsv`)."""
    rng = random.Random(seed)
    for split, n in sizes:
        write(folder / f"{split}.tsv", sst2_tsv(n, rng, positive, negative))
    return folder


def squad_json(path: Path, n: int = 12, filler: int = 60, impossible: bool = False, seed: int = 1) -> Path:
    """SQuAD JSON of `n` contexts, each "the ship was steered by captain nemoI ." and 2 x `filler` random words
    (the answer in the middle, or every other context at the start), so long contexts need several windows.
    Each question has two gold answers; `impossible` makes it v2.0 with an unanswerable question per context."""
    rng = random.Random(seed)
    paragraphs = []
    for i in range(n):
        words = " ".join(rng.choice(CONTEXT_WORDS) for _ in range(filler))
        answer = f"captain nemo{i}"
        sentence = f"the ship was steered by {answer} ."
        parts = [words, sentence, words] if i % 2 else [sentence, words, words]
        context = " ".join(p for p in parts if p)
        start = context.index(answer)
        qas = [{"id": f"q{i}", "question": "who steered the ship ?",
                "answers": [{"text": answer, "answer_start": start}, {"text": "nemo", "answer_start": start + 8}]}]
        if impossible:
            qas[0]["is_impossible"] = False
            qas.append({"id": f"q{i}-none", "question": "who built the mills ?", "answers": [],
                        "is_impossible": True})
        paragraphs.append({"context": context, "qas": qas})
    return write(path, json.dumps({"version": "2.0" if impossible else "1.1",
                                   "data": [{"title": "t", "paragraphs": paragraphs}]}))


def conll(path: Path, repeat: int = 6, sentences: Sequence[Sequence[tuple[str, str]]] = CONLL_SENTENCES) -> Path:
    """A CoNLL-2003 file: -DOCSTART-, then `sentences` `repeat` times (word, POS, chunk, tag), blank-line separated."""
    blocks = ["-DOCSTART- -X- -X- O\n"]
    for _ in range(repeat):
        for sentence in sentences:
            blocks.append("".join(f"{w} NNP B-NP {t}\n" for w, t in sentence))
    return write(path, "\n".join(blocks))


def tiny_config(vocab_size: int, layers: int = 2, hidden: int = 32, heads: int = 2, intermediate: int | None = None,
                max_positions: int = 128, dropout: float = 0.1) -> BertConfig:
    """A tiny BERT: `layers` x `hidden` wide x `heads` heads, FFN 2 x hidden unless given."""
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      intermediate_size=intermediate or 2 * hidden, max_position_embeddings=max_positions,
                      hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)


def save_tiny(folder: Path, tok: Tokenizer, head: str = "base", **config: Any) -> Path:
    """A random tiny BERT (seed 0, `tiny_config` options) with `tok`'s vocabulary, saved in `folder`."""
    torch.manual_seed(0)
    return save_model(build_model(tiny_config(tok.vocab_size, **config), head), folder, tok)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_ddp(fn: Callable[..., object], *args: Any, world: int = 2, **kwargs: Any) -> None:
    """Run `fn(*args, **kwargs)` in `world` processes as torchrun would (gloo on loopback, one thread each).

    `fn` must be importable by name (a module-level function), as the processes are spawned."""
    mp.spawn(_ddp_process, args=(world, free_port(), fn, args, kwargs), nprocs=world, join=True)


def _ddp_process(rank: int, world: int, port: int, fn: Callable[..., object], args: tuple, kwargs: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    try:
        fn(*args, **kwargs)
    finally:
        torch.distributed.destroy_process_group()
