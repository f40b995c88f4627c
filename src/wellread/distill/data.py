"""Distillation inputs beyond a task's labelled data: raw text for general distillation, transfer sets.

General distillation (`--task none`) reads either a packed corpus (`wellread corpus pack` output: a `len{L}`
split is used as `[CLS] A [SEP] B [SEP]`, its `val` split for validation) or text files (`.txt`, `.jsonl[.gz]`
as `corpus build` writes them): one input per non-empty line, truncated to `max_length`, lines whose CRC-32 is
0 mod 100 held out for validation (a split that stays put when files grow).

A transfer set (`--transfer`) is unlabelled text the teacher labels: `.txt` files with one example per line (a
tab separates the two texts of a pair), or files in the task's own format (their labels are ignored).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wellread.corpus.pack import PackedSequences
from wellread.distill.intermediate import InputRows, Sequences
from wellread.distill.teacher import same_vocabulary
from wellread.errors import DataError
from wellread.finetune.classification import encode_texts
from wellread.finetune.data import CustomColumns, family_of, read_split
from wellread.tasks.common import Example
from wellread.textio import corpus_paths, numbered_lines, read_documents
from wellread.tokenizer import Tokenizer

VAL_MODULUS = 100


class PackedInputs:
    """A packed split as model inputs: `[CLS] A [SEP] B [SEP]`, type ids 0 then 1 (read lazily)."""

    def __init__(self, packed: PackedSequences, tok: Tokenizer) -> None:
        self.packed, self.cls, self.sep = packed, tok.cls_token_id, tok.sep_token_id
        self.lengths = np.diff(packed.offsets).astype(np.int64) + 3

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.packed.pair(i)
        ids = np.concatenate([[self.cls], a, [self.sep], b, [self.sep]]).astype(np.int64)
        types = np.concatenate([np.zeros(len(a) + 2, np.int64), np.ones(len(b) + 1, np.int64)])
        return ids, types


def packed_split(folder: Path, max_length: int) -> Path | None:
    """The `len{L}` folder of a packed corpus to use (the longest L <= max_length), or None if not packed."""
    lengths = sorted(int(p.name[3:]) for p in folder.glob("len*") if p.name[3:].isdigit()
                     and (p / "train" / "index.json").is_file())
    if not lengths:
        return None
    fitting = [n for n in lengths if n <= max_length]
    if not fitting:
        raise DataError(f"{folder} is packed for lengths {lengths}, all longer than --max-length {max_length}")
    return folder / f"len{fitting[-1]}"


def general_inputs(data: Sequence[str | Path], tok: Tokenizer, max_length: int,
                   progress: bool = True) -> tuple[InputRows, InputRows | None]:
    """(train, validation) inputs for general distillation from a packed corpus or text files."""
    if len(data) == 1 and Path(data[0]).is_dir():
        split = packed_split(Path(data[0]), max_length)
        if split is not None:
            packed_tok = Path(data[0]) / "tokenizer"
            if packed_tok.is_dir() and not same_vocabulary(Tokenizer.load(packed_tok), tok):
                raise DataError(f"{data[0]} was packed with another tokenizer than the teacher's; pack the corpus "
                                "again with the teacher's tokenizer (wellread corpus pack --tokenizer TEACHER)")
            has_val = (split / "val" / "index.json").is_file()
            val = PackedInputs(PackedSequences(split / "val"), tok) if has_val else None
            return PackedInputs(PackedSequences(split / "train"), tok), val
    train_lines, val_lines = [], []
    for doc in read_documents(corpus_paths(data)):
        for line in doc.splitlines():
            if line.strip():
                held_out = zlib.crc32(line.encode("utf-8")) % VAL_MODULUS == 0
                (val_lines if held_out else train_lines).append(line.strip())
    if not train_lines:
        raise DataError(f"no text lines in {', '.join(map(str, data))}")
    train = Sequences(*encode_texts(tok, train_lines, None, max_length))
    val = Sequences(*encode_texts(tok, val_lines, None, max_length)) if val_lines else None
    return train, val


def read_transfer(paths: Sequence[str | Path], task: str, columns: CustomColumns | None = None,
                  pairs: bool = False) -> list[Example]:
    """Unlabelled examples from transfer files (see the module docstring); `pairs`: the task takes text pairs."""
    if family_of(task) != "classification":
        raise DataError(f"a transfer set is for sentence (pair) classification tasks, not {task}")
    examples: list[Example] = []
    for item in paths:
        path = Path(item)
        if not path.is_file():
            raise DataError(f"transfer file {path} does not exist")
        if path.suffix == ".txt":
            for n, line in numbered_lines(path):  # bad UTF-8: a DataError at its line
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                a, sep, b = line.partition("\t")
                if pairs and not sep:
                    raise DataError(f"{path}:{n}: {task} takes text pairs; separate the two texts with a tab")
                examples.append(Example(a.strip(), b.strip() if pairs else None, None, f"transfer-{n}", n))
        else:
            found = read_split(task, path, "test", columns or CustomColumns())
            examples.extend(Example(ex.text_a, ex.text_b, None, ex.guid, ex.line) for ex in found)
    if not examples:
        raise DataError(f"the transfer files {', '.join(map(str, paths))} hold no examples")
    return examples
