"""Length configurations: how many tokens each layer keeps, as fractions of the input's length.

A `LengthConfig` holds one cumulative keep fraction per layer, non-increasing: `keep[i]` is the share of an
input's real tokens that layer i passes on (layer i attends over what layer i-1 kept, then computes its
attention output and FFN for its own most attended `keep[i]` share). Fractions, not token counts, so one
configuration serves every input length under dynamic padding: an input of n tokens keeps
`max(min(n, min_tokens), ceil(keep[i] * n))` after layer i.

A configuration may also skip whole layers (`skip`, LayerDrop's sub-networks, Fan et al. 2020): a skipped layer
passes its input on unchanged, so its keep share is the previous layer's. Token dropping saves compute in
proportion to the tokens dropped; skipping saves a layer's weights too, which is what helps at batch 1 on short
inputs (there a layer costs about as much for 1 token as for 25: its weights are read from memory either way).

It is saved into a model folder as `length_config.json`; `load_model` attaches it to the model as
`model.length_config`, which the encoder uses in eval mode whenever its forward is given no other.
LengthDrop's random sub-models (Kim & Cho 2021) are drawn here too: each layer keeps between (1 - p) and all
of the previous layer's share, and with LayerDrop each layer is skipped with a given probability.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from wellread.errors import ConfigError
from wellread.textio import write_text_atomic

FILE_NAME = "length_config.json"
MIN_TOKENS = 4
"""The floor: no layer keeps fewer tokens than this (or than the input has)."""
EPS = 1e-6  # keep * n computed in floating point: 0.7 * 10 must give 7 tokens, not 8


@dataclass(frozen=True)
class LengthConfig:
    """Per-layer cumulative keep fractions (non-increasing, in (0, 1]), the token floor and the skipped layers."""

    keep: tuple[float, ...]
    min_tokens: int = MIN_TOKENS
    skip: tuple[int, ...] = ()
    """Indices of the layers not run (their keep share must equal the previous layer's; 1 for layer 0)."""

    def __post_init__(self) -> None:
        keep = tuple(float(k) for k in self.keep)
        object.__setattr__(self, "keep", keep)
        object.__setattr__(self, "skip", tuple(sorted({int(i) for i in self.skip})))
        if not keep:
            raise ConfigError("a length configuration needs one keep fraction per layer; got none")
        if any(not 0.0 < k <= 1.0 for k in keep):
            raise ConfigError(f"keep fractions must lie in (0, 1]; got {list(keep)}")
        if any(b > a + EPS for a, b in zip(keep, keep[1:], strict=False)):
            raise ConfigError(f"keep fractions must not increase from layer to layer; got {list(keep)}")
        if self.min_tokens < 1:
            raise ConfigError(f"min_tokens must be at least 1; got {self.min_tokens}")
        if any(not 0 <= i < len(keep) for i in self.skip) or len(self.skip) == len(keep):
            raise ConfigError(f"skipped layers must be indices below {len(keep)}, leaving one layer at least; "
                              f"got {list(self.skip)}")
        for i in self.skip:
            if abs(keep[i] - (keep[i - 1] if i else 1.0)) > EPS:
                raise ConfigError(f"layer {i} is skipped, so it cannot drop tokens: its keep share must equal "
                                  f"the previous layer's ({keep[i - 1] if i else 1.0}); got {keep[i]}")

    @classmethod
    def build(cls, keep: list[float | None], min_tokens: int = MIN_TOKENS) -> LengthConfig:
        """From per-layer keep shares where None marks a skipped layer (it keeps the previous layer's share)."""
        shares, previous = [], 1.0
        for k in keep:
            previous = previous if k is None else k
            shares.append(previous)
        return cls(tuple(shares), min_tokens, tuple(i for i, k in enumerate(keep) if k is None))

    @classmethod
    def full(cls, layers: int) -> LengthConfig:
        """Every layer keeps every token: the full model."""
        return cls((1.0,) * layers)

    @property
    def layers(self) -> int:
        return len(self.keep)

    def keeps_all_tokens(self) -> bool:
        """Whether every layer keeps all its tokens (layers may still be skipped)."""
        return all(k >= 1.0 for k in self.keep)

    def is_full(self) -> bool:
        """Whether no layer drops anything or is skipped (the encoder then runs exactly its ordinary forward)."""
        return self.keeps_all_tokens() and not self.skip

    def token_lengths(self, n: Tensor) -> Tensor:
        """Tokens kept per example and layer: n (B,) real tokens -> (B, L + 1), column 0 = n, non-increasing."""
        n = n.long()
        keep = torch.tensor(self.keep, dtype=torch.float64)  # (L,)
        kept = torch.ceil(keep[None] * n[:, None].double() - EPS).long()  # (B, L)
        floor = n.clamp(max=self.min_tokens)[:, None]  # (B, 1)
        return torch.cat([n[:, None], torch.maximum(kept, floor)], dim=1)  # (B, L + 1)

    def lengths_for(self, n: int) -> list[int]:
        """`token_lengths` of one input length n, as plain numbers: [n, tokens after layer 0, ...]."""
        return [n] + [max(min(n, self.min_tokens), math.ceil(k * n - EPS)) for k in self.keep]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"keep": list(self.keep), "min_tokens": self.min_tokens}
        if self.skip:
            data["skip"] = list(self.skip)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "length configuration") -> LengthConfig:
        if not isinstance(data, dict) or not isinstance(data.get("keep"), list):
            raise ConfigError(f"{source}: expected an object with a \"keep\" list of per-layer fractions")
        try:
            return cls(tuple(data["keep"]), int(data.get("min_tokens", MIN_TOKENS)), tuple(data.get("skip", ())))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{source}: {err}") from None


def save_length_config(config: LengthConfig, folder: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write `length_config.json` into a model folder (with `info`, e.g. how the search chose it)."""
    path = Path(folder) / FILE_NAME
    data = config.to_dict() | ({"info": info} if info else {})
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
    return path


def read_length_config(folder: str | Path, layers: int | None = None) -> LengthConfig | None:
    """The folder's `length_config.json`, or None when it has none; checked against the model's layer count."""
    path = Path(folder) / FILE_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    config = LengthConfig.from_dict(data, str(path))
    if layers is not None and config.layers != layers:
        raise ConfigError(f"{path} has {config.layers} keep fractions but the model has {layers} layers")
    return config


def smallest(layers: int, p: float, min_tokens: int = MIN_TOKENS, skip: tuple[int, ...] = ()) -> LengthConfig:
    """LengthDrop's smallest sub-model: every layer keeps exactly (1 - p) of the previous layer's share; the
    layers in `skip` are not run (LayerDrop's smallest sub-network)."""
    keep: list[float | None] = []
    share = 1.0
    for i in range(layers):
        if i not in skip:
            share *= 1.0 - p
        keep.append(None if i in skip else share)
    return LengthConfig.build(keep, min_tokens)


def sample(layers: int, p: float, generator: torch.Generator, min_tokens: int = MIN_TOKENS,
           layerdrop: float = 0.0) -> LengthConfig:
    """A random LengthDrop sub-model: keep[i] uniform in [(1 - p) * keep[i - 1], keep[i - 1]], keep[-1] = 1;
    with `layerdrop`, each layer is first skipped with that probability (one layer always runs)."""
    skipped = [False] * layers
    if layerdrop:
        skipped = (torch.rand(layers, generator=generator) < layerdrop).tolist()
        if all(skipped):
            skipped[int(torch.randint(layers, (1,), generator=generator))] = False
    keep: list[float | None] = []
    previous = 1.0
    for u, skip in zip(torch.rand(layers, generator=generator, dtype=torch.float64).tolist(), skipped, strict=True):
        if not skip:
            previous = previous * (1.0 - p * u)
        keep.append(None if skip else previous)
    return LengthConfig.build(keep, min_tokens)


def check_drop_probability(p: float) -> float:
    """LengthDrop's p must leave every layer something: 0 <= p < 1."""
    if not 0.0 <= p < 1.0 or math.isnan(p):
        raise ConfigError(f"the length-drop probability must be in [0, 1); got {p}")
    return p
