"""Hugging Face checkpoint folders in and out: config.json + model.safetensors (or pytorch_model.bin).

Loading matches keys exactly. Encoder weights must all be present with the config's shapes, or loading
fails naming the keys. Head weights (and the pooler) may legitimately be new, unused, or re-shaped when
fine-tuning gives a model a new head or label set: those are listed in the returned `LoadReport`, never silently
skipped. A folder loaded as itself (its own head and labels, as inference loads it) must hold every weight: a new
one there means config.json and the weights disagree (id2label edited from 5 labels to 2, a masked-LM checkpoint
under a classifier config), and its outputs would be random, so loading fails naming the weights and the folder.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from wellread.config import BertConfig
from wellread.errors import CheckpointError
from wellread.models import FAMILIES, EncoderWithHead, architecture_name, build_model
from wellread.models.folder import ModelFolder, read_model_folder
from wellread.models.length import FILE_NAME as LENGTH_CONFIG
from wellread.models.length import save_length_config

LEGACY_BUFFERS = ("embeddings.position_ids",)  # persistent in checkpoints saved by old transformers
ENCODER_PARTS = ("embeddings.", "encoder.")  # must match exactly; the pooler and heads may be new


@dataclass
class LoadReport:
    """What loading did beyond a one-to-one copy."""

    source: str
    initialized: list[str] = field(default_factory=list)  # absent from the checkpoint: freshly initialised
    reinitialized: list[str] = field(default_factory=list)  # head weights of another shape: re-initialised
    unused: list[str] = field(default_factory=list)  # in the checkpoint, no place in this model
    ignored: list[str] = field(default_factory=list)  # legacy buffers, recomputed by the model
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    """Re-initialised weight -> (its shape in the checkpoint, the shape the config gives it)."""

    @property
    def complete(self) -> bool:
        """Whether every weight of the model came from the checkpoint (none new or re-initialised)."""
        return not self.initialized and not self.reinitialized

    def require_complete(self, head: str) -> None:
        """CheckpointError naming the weights that would be new (and the folder) unless `complete`."""
        if self.complete:
            return
        parts = []
        if self.initialized:
            parts.append(f"not in the checkpoint: {_some(self.initialized)}")
        if self.reinitialized:
            parts.append("of another shape in the checkpoint: " + _some(
                [f"{k} checkpoint {self.shapes[k][0]} vs config {self.shapes[k][1]}" for k in self.reinitialized]))
        raise CheckpointError(f"{self.source}: config.json and the weights disagree, so the {head} model would "
                              f"get randomly initialised weights and random outputs; weights {'; '.join(parts)}. "
                              "Was config.json edited (labels, architectures)? Restore it, or fine-tune the folder "
                              "for the new head")

    def lines(self) -> list[str]:
        out = []
        if self.initialized:
            out.append(f"new weights (initialised, train them): {', '.join(self.initialized)}")
        if self.reinitialized:
            out.append(f"head weights of another shape (re-initialised): {', '.join(self.reinitialized)}")
        if self.unused:
            out.append(f"checkpoint weights not used by this model: {', '.join(self.unused)}")
        return out

    def __str__(self) -> str:
        return "\n".join([f"loaded {self.source}", *self.lines()])


def read_state_dict(folder: Path) -> dict[str, Tensor]:
    """The weights of a model folder: (sharded) safetensors, else pytorch_model.bin with weights_only."""
    for name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / name
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (json.JSONDecodeError, KeyError, AttributeError) as err:
                raise CheckpointError(f"{index} is not a valid shard index ({err})") from None
            state: dict[str, Tensor] = {}
            for shard in shards:
                state.update(_read_weight_file(folder / shard))
            return state
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return _read_weight_file(folder / name)
    raise CheckpointError(f"{folder} has no weights (model.safetensors or pytorch_model.bin)")


def _read_weight_file(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise CheckpointError(f"weight file {path} is missing")
    try:
        if path.suffix == ".safetensors":
            return load_file(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # weights_only refuses anything but tensors and plain containers
        first = (str(err).splitlines() or [""])[0]
        raise CheckpointError(f"{path} holds Python objects besides tensors, which wellread never unpickles "
                              f"(torch.load weights_only: {first}); if you trust its source, convert it to "
                              "model.safetensors") from None
    except (SafetensorError, OSError, RuntimeError, EOFError, ValueError) as err:
        raise CheckpointError(f"cannot read weights from {path}: {err}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict")
    return state


def tied_aliases(model: nn.Module) -> set[str]:
    """Parameter names that alias an earlier one (the masked-LM decoder tied to the word embeddings)."""
    seen: set[int] = set()
    aliases = set()
    for name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in seen:
            aliases.add(name)
        seen.add(id(param))
    return aliases


def _align_prefix(state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """Add or strip the family prefix (`bert.`) so bare-encoder and head checkpoints fit either model."""
    prefix = FAMILIES[model.config.model_type].prefix + "."
    has_prefix = any(k.startswith(prefix) for k in state)
    wants_prefix = isinstance(model, EncoderWithHead)
    if has_prefix and not wants_prefix:
        return {k.removeprefix(prefix): v for k, v in state.items()}
    if wants_prefix and not has_prefix:
        return {(prefix + k if k.startswith((*ENCODER_PARTS, "pooler.")) else k): v for k, v in state.items()}
    return state


def load_state(model: nn.Module, state: dict[str, Tensor], source: str) -> LoadReport:
    """Copy `state` into `model`; raise CheckpointError on any encoder mismatch, report head differences."""
    report = LoadReport(source)
    prefix = FAMILIES[model.config.model_type].prefix + "."
    report.ignored = [k for k in state if k.removeprefix(prefix) in LEGACY_BUFFERS]
    state = _align_prefix({k: v for k, v in state.items() if k not in report.ignored}, model)
    expected = model.state_dict()
    aliases = tied_aliases(model)

    def is_encoder(key: str) -> bool:
        return key.removeprefix(prefix).startswith(ENCODER_PARTS)

    missing = [k for k in expected if k not in state and k not in aliases]
    unexpected = [k for k in state if k not in expected]
    mismatched = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    errors = []
    if bad := [k for k in missing if is_encoder(k)]:
        errors.append(f"missing encoder weights: {_some(bad)}")
    if bad := [k for k in unexpected if is_encoder(k)]:
        errors.append(f"unexpected encoder weights: {_some(bad)}")
    if bad := [k for k in mismatched if is_encoder(k)]:
        errors.append("shapes differ from the config: " + _some(
            [f"{k} checkpoint {tuple(state[k].shape)} vs config {tuple(expected[k].shape)}" for k in bad]))
    if errors:
        raise CheckpointError(f"{source} does not fit its config ({type(model).__name__}, "
                              f"{model.config.num_hidden_layers} layers, hidden {model.config.hidden_size}): "
                              + "; ".join(errors))
    report.initialized = missing
    report.unused = unexpected
    report.reinitialized = mismatched
    report.shapes = {k: (tuple(state[k].shape), tuple(expected[k].shape)) for k in mismatched}
    usable = {k: v for k, v in state.items() if k in expected and k not in mismatched and k not in aliases}
    model.load_state_dict(usable, strict=False)
    return report


def _some(keys: list[str], limit: int = 12) -> str:
    more = f" (and {len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def loads_as_itself(folder: ModelFolder, head: str | None, labels: list[str] | None = None,
                    problem_type: str | None = None) -> bool:
    """Whether `load_model` would load the folder as what its config.json says it is: its own head (a pretraining
    model's masked-LM part included) and its own labels. A bare encoder ("base") does not count: it has no head,
    and checkpoints saved without the pooler are common."""
    own = head is None or head == folder.head or (head == "masked-lm" and folder.head == "pretraining")
    return own and (head or folder.head) != "base" and labels is None and problem_type is None


def load_model(source: str | Path | ModelFolder, head: str | None = None, *, labels: list[str] | None = None,
               problem_type: str | None = None, revision: str | None = None,
               complete: bool | None = None) -> tuple[nn.Module, LoadReport]:
    """Load a Hugging Face-layout model folder or hub id (or a `ModelFolder` already read).

    head: "base", "masked-lm", "pretraining", "next-sentence", "sequence-classification",
    "token-classification" or "question-answering"; default: the checkpoint's own `architectures`.
    labels / problem_type: give a classification head this label set ("regression": one output).
    complete: refuse (CheckpointError naming the weights and the folder) a model that would get any new or
    re-initialised weight. None (the default): required when the folder is loaded as itself (`loads_as_itself`),
    the report's business when fine-tuning gives it another head or label set. Inference passes True.
    Returns the model in eval mode and a report of new, re-initialised and unused weights. A length_config.json
    in the folder becomes `model.length_config` (dynamic sequence length at inference).
    """
    folder = source if isinstance(source, ModelFolder) else read_model_folder(source, revision)
    config = copy.deepcopy(folder.config)  # the model's own: the folder's stays as read
    if complete is None:
        complete = loads_as_itself(folder, head, labels, problem_type)
    if head is None:
        head = folder.own_head()
    if problem_type == "regression" and labels is None:
        labels = ["score"]
    if labels is not None:
        config = config.with_labels(labels, problem_type)
    model = build_model(config, head)
    report = load_state(model, read_state_dict(folder.path), str(folder.path))
    if complete:
        report.require_complete(head)
    model.length_config = folder.length_config  # None: full length
    return model.eval(), report


def save_model(model: nn.Module, folder: str | Path, tokenizer=None) -> Path:
    """Write config.json and model.safetensors (and the tokenizer files) in the Hugging Face layout.

    Tied weights are stored once, as transformers stores them. Every file is written into a staging folder
    beside the others, then renamed over the old one: a file is replaced only once complete (a killed or failed
    save leaves the old files, never a truncated one). The model's `length_config` is written as
    length_config.json (an old one is removed when the model has none).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config: BertConfig = model.config.replace(architectures=[architecture_name(model)])
    if tokenizer is not None:
        tokenizer.check_compatible(config)
    aliases = tied_aliases(model)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k not in aliases}
    staging = folder / ".saving"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        save_file(state, staging / "model.safetensors", metadata={"format": "pt"})
        config.save(staging / "config.json")
        if tokenizer is not None:
            tokenizer.save(staging)
        for item in sorted(staging.iterdir()):
            os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if model.length_config is not None:
        save_length_config(model.length_config, folder)
    else:
        (folder / LENGTH_CONFIG).unlink(missing_ok=True)  # a stale one would shorten these weights
    return folder
