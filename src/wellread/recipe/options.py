"""The options of each recipe stage type: one dataclass per type, its fields being the YAML keys.

An input option (`corpus`, `tokenizer`, `packed`, `model`, `data`) left out is taken from the latest earlier
stage that produced that kind of output. `check()` returns (field, message) pairs for values out of range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wellread.options import option

Checks = list[tuple[str, str]]


def _positive(options: object, *names: str) -> Checks:
    return [(n, f"must be > 0, got {getattr(options, n)}") for n in names if getattr(options, n) <= 0]


@dataclass
class TokenizerOptions:
    """A fresh uncased (or cased) WordPiece vocabulary trained on the corpus."""

    corpus: str | None = None
    vocab_size: int = 30522
    min_frequency: int = 2
    lowercase: bool = True
    limit_alphabet: int = 1000

    def check(self) -> Checks:
        return _positive(self, "vocab_size", "limit_alphabet")


@dataclass
class PackOptions:
    """Tokenize the corpus into two-segment training sequences."""

    corpus: str | None = None
    tokenizer: str | None = None
    max_length: list[int] = field(default_factory=lambda: [128])
    val_permille: int = 10
    short_seq_prob: float = 0.1
    seed: int = 0

    def check(self) -> Checks:
        bad = [n for n in self.max_length if not 8 <= n <= 4096]
        return [("max_length", f"values must be in 8..4096, got {bad}")] if bad else []


@dataclass
class PretrainOptions:
    """Masked-LM (+ optional sentence order) pretraining; `phases` are LENGTH:STEPS items."""

    packed: str | None = None
    model: str = "tiny"
    """A preset (see `wellread models`), a config.json or a model folder to continue from."""
    phases: list[str] = field(default_factory=lambda: ["128:1000"])
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-3
    warmup: float = 0.06
    weight_decay: float = 0.01
    optimizer: str = option("adamw", choices=("adamw", "lamb"))
    masking: str = option("wordpiece", choices=("wordpiece", "whole-word"))
    mask_rate: float = 0.15
    sop: bool = False
    bf16: str = option("auto", choices=("auto", "on", "off"))
    eval_every: int = 500
    eval_sequences: int = 2000
    save_every: int = 500
    threads: int = 0
    seed: int = 0

    def check(self) -> Checks:
        bad = [p for p in self.phases if len(p.split(":")) != 2 or not all(x.isdigit() for x in p.split(":"))]
        out = [("phases", f"items are LENGTH:STEPS, e.g. 128:1000; got {bad}")] if bad else []
        return out + _positive(self, "batch_size", "grad_accum", "lr", "eval_every", "save_every")
