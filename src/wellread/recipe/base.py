"""The types every stage shares: its context, its result, its done-marker record and its registry entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wellread.recipe.schema import Recipe


@dataclass
class StageRecord:
    """A finished stage, as written to its done marker (`OUT/.stages/NAME.json`)."""

    name: str
    type: str
    hash: str
    options: dict[str, Any]
    inputs: dict[str, Any]
    outputs: dict[str, str]
    summary: str
    details: dict[str, Any]
    seconds: float
    finished: str
    key_parts: dict[str, str] = field(default_factory=dict)
    """Digests of what the key hashes (type, options, files, previous), to say why a stage runs again."""


@dataclass
class StageContext:
    """What a stage's `run` gets besides its options."""

    name: str
    out: Path
    """The stage's own output folder (OUT/NAME), created empty unless resuming."""
    inputs: dict[str, Any]
    """Option field -> the value to use: the option's own, or the output of the earlier stage it names."""
    resume: bool
    """True when an interrupted run of this same configuration left work to continue."""
    earlier: list[StageRecord]
    recipe: Recipe


@dataclass
class StageResult:
    """What a stage produced: output kind -> path, a one-line summary and details for the model card."""

    outputs: dict[str, str]
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageType:
    """One registry entry."""

    options: type
    run: Callable[[Any, StageContext], StageResult]
    inputs: dict[str, str]
    """Option field -> output kind taken from the latest earlier stage when the option is not set."""
    produces: tuple[str, ...]
    resumable: bool = False
    """Whether a re-run after a crash continues the stage's own checkpoints instead of starting it over."""
    replaced_by: dict[str, str] = field(default_factory=dict)
    """Input option -> the option that, when set, makes that input unneeded (pack's `tokenizer` when the stage is
    given a `vocab_size` to train its own)."""
