"""TinyBERT's data augmentation: new examples made by replacing words with a masked-LM's candidates.

For each text, every whitespace-separated word that the masked-LM's tokenizer keeps as one piece gets its top-K
(K = 15) candidates: the word is replaced by one [MASK] and the model's best whole-word predictions there are kept
(sub-word pieces, special tokens and the word itself left out); one batched forward pass per text scores all
its words. Each new example then replaces every word that has candidates, with probability p (0.4), by a random
one of them; N (20) distinct new examples are drawn per example, the original never among them. TinyBERT
replaced multi-piece words by GloVe neighbours; wellread ships no word vectors, so those words are kept as they
are. Examples are visited in a seeded random order and generation stops at `max_examples` new examples, so a
cap gives a random part of the data its augmentations. Augmented examples carry no label: distillation trains on
them through the teacher's outputs only (a transfer set).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from wellread.errors import WellreadError
from wellread.models.checkpoint import load_model
from wellread.tasks.common import Example
from wellread.tokenizer import Tokenizer

AUGMENTED_FILE = "augmented.jsonl"


@dataclass
class AugmentOptions:
    """TinyBERT's augmentation settings (their defaults)."""

    model: str
    """A model folder with a masked-LM head (`wellread pretrain` output, a BertForMaskedLM/PreTraining folder)."""
    per_example: int = 20
    max_examples: int = 100_000
    probability: float = 0.4
    candidates: int = 15
    max_length: int = 128
    seed: int = 0

    def check(self) -> None:
        if self.per_example < 1 or self.max_examples < 1 or self.candidates < 1:
            raise WellreadError("--augment-n, --augment-max and --augment-candidates must be at least 1")
        if not 0.0 < self.probability <= 1.0:
            raise WellreadError(f"--augment-prob {self.probability} must be in (0, 1]")


class Augmenter:
    """Word candidates from a masked-LM, and new texts made from them."""

    def __init__(self, model: nn.Module, tok: Tokenizer, candidates: int = 15, max_length: int = 128) -> None:
        self.model, self.tok = model.eval(), tok
        self.k, self.max_length = candidates, max_length
        self.bad = torch.zeros(model.config.vocab_size, dtype=torch.bool)  # never proposed: specials, ##pieces
        self.bad[tok.all_special_ids] = True
        for token, i in tok.vocab.items():
            if token.startswith("##"):
                self.bad[i] = True

    @classmethod
    def load(cls, folder: str | Path, candidates: int = 15, max_length: int = 128) -> Augmenter:
        """The masked-LM in `folder` (an error when the folder has no trained masked-LM head)."""
        model, report = load_model(folder, "masked-lm")
        if any(name.startswith("cls.predictions") for name in report.initialized + report.reinitialized):
            raise WellreadError(f"{folder} has no masked-LM head (cls.predictions); augmentation needs a model "
                                "pretrained with masked-LM, e.g. `wellread pretrain` output")
        return cls(model, Tokenizer.load(folder), candidates, max_length)

    @torch.no_grad()
    def candidates(self, words: Sequence[str]) -> list[list[str]]:
        """Per word: its masked-LM candidates (empty for multi-piece words and words past max_length)."""
        pieces = [self.tok.backend.encode(w, add_special_tokens=False).ids for w in words]
        ids = [self.tok.cls_token_id]
        start = []
        for p in pieces:
            start.append(len(ids))
            ids.extend(p)
        ids = ids[:self.max_length - 1] + [self.tok.sep_token_id]
        single = [j for j, p in enumerate(pieces) if len(p) == 1 and start[j] < len(ids) - 1]
        out: list[list[str]] = [[] for _ in words]
        if not single:
            return out
        inputs = torch.tensor(ids).repeat(len(single), 1)  # (S, T): one copy per word, that word masked
        positions = torch.zeros_like(inputs, dtype=torch.bool)
        for row, j in enumerate(single):
            inputs[row, start[j]] = self.tok.mask_token_id
            positions[row, start[j]] = True
        logits = self.model(inputs, torch.ones_like(inputs), torch.zeros_like(inputs),
                            masked_positions=positions).logits.float()  # (S, V)
        logits[:, self.bad] = float("-inf")
        for row, j in enumerate(single):
            logits[row, pieces[j][0]] = float("-inf")  # the word itself
        top = logits.topk(self.k, dim=-1).indices.tolist()  # (S, K)
        for row, j in enumerate(single):
            out[j] = [self.tok.id_to_token(i) for i in top[row]]
        return out

    def variants(self, text: str, n: int, probability: float, rng: random.Random) -> list[str]:
        """Up to n distinct new versions of `text` (fewer when its words allow fewer)."""
        words = text.split()
        options = self.candidates(words)
        if not any(options):
            return []
        found: dict[str, None] = {}
        for _ in range(n * 4):  # tries: a short text has few distinct variants
            new = [rng.choice(c) if c and rng.random() < probability else w
                   for w, c in zip(words, options, strict=True)]
            joined = " ".join(new)
            if joined != " ".join(words):
                found[joined] = None
            if len(found) == n:
                break
        return list(found)


def augment(examples: Sequence[Example], augmenter: Augmenter, opts: AugmentOptions,
            progress: bool = True) -> list[Example]:
    """New unlabelled examples (see the module docstring), at most `opts.max_examples`."""
    rng = random.Random(opts.seed)
    order = list(range(len(examples)))
    rng.shuffle(order)
    out: list[Example] = []
    bar = tqdm(total=opts.max_examples, desc="augment", disable=not progress, dynamic_ncols=True)
    for i in order:
        ex = examples[i]
        texts_a = augmenter.variants(ex.text_a, opts.per_example, opts.probability, rng)
        if ex.text_b is not None:  # pairs: both texts varied, the k-th variants paired
            texts_b = augmenter.variants(ex.text_b, opts.per_example, opts.probability, rng)
            count = max(len(texts_a), len(texts_b))
            texts_a = (texts_a or [ex.text_a]) * count
            texts_b = (texts_b or [ex.text_b]) * count
            new = list(zip(texts_a[:count], texts_b[:count], strict=True))
        else:
            new = [(a, None) for a in texts_a]
        new = new[:opts.max_examples - len(out)]
        out.extend(Example(a, b, None, f"aug-{ex.guid}-{k}", ex.line) for k, (a, b) in enumerate(new))
        bar.update(len(new))
        if len(out) >= opts.max_examples:
            break
    bar.close()
    return out


def augmented_examples(examples: Sequence[Example], opts: AugmentOptions, folder: Path,
                       progress: bool = True) -> list[Example]:
    """`augment`, written to `folder/augmented.jsonl` with its settings; a file made with the same settings from
    the same number of examples is read back instead of augmenting again."""
    opts.check()
    path = Path(folder) / AUGMENTED_FILE
    settings = {**asdict(opts), "source_examples": len(examples)}
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        if lines and json.loads(lines[0]) == {"settings": settings}:
            return [Example(r["text_a"], r["text_b"], None, r["guid"]) for r in map(json.loads, lines[1:])]
    out = augment(examples, Augmenter.load(opts.model, opts.candidates, opts.max_length), opts, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps({"settings": settings}) + "\n")
        for ex in out:
            f.write(json.dumps({"text_a": ex.text_a, "text_b": ex.text_b, "guid": ex.guid}) + "\n")
    tmp.replace(path)
    return out
