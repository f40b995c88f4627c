"""The training loop's resume state on disk, in formats that load without unpickling anything.

A checkpoint folder holds the model (the task's `save`: safetensors) and the loop's state: every tensor (the
optimizer's moments and steps, torch's RNG state) in `trainer_state.safetensors`, everything else (step, best
metric, history, scheduler counters, numpy's and Python's RNG states, the options the run was started with) in
`trainer_state.json`, where each tensor is a reference into the safetensors file.

Why not `torch.load`: a pickle can run any code while it loads, so a planted or downloaded checkpoint would run
it on `--resume`; `weights_only=True` narrows that to an allow-list, but JSON and safetensors cannot express code
at all. Neither can hold a nested Python structure with tensors inside (the optimizer's state dict: int keys,
tuples, tensors), hence the few lines of encoding below: JSON for the structure, safetensors for the tensors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from wellread.errors import WellreadError

STATE_JSON = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
LEGACY_STATE = "trainer_state.pt"
"""The pickle that older versions wrote: refused, never loaded."""
RESERVED = frozenset({"tensor", "ndarray", "dtype", "tuple", "items"})
"""Keys that mark an encoded value; a dict with one of them as a key is stored as a list of pairs."""


def _encode(value: Any, tensors: dict[str, Tensor]) -> Any:
    """`value` as JSON, each tensor moved into `tensors` and replaced by {"tensor": key}; numpy arrays, tuples
    and dicts with other than string keys as marked objects ({"ndarray": ..., "dtype": ...}, {"tuple": [...]},
    {"items": [[key, value], ...]})."""
    if isinstance(value, Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().clone().contiguous()  # safetensors refuses shared storage
        return {"tensor": key}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in RESERVED for k in value):
            return {k: _encode(v, tensors) for k, v in value.items()}
        # other keys (the optimizer's state is keyed by parameter index): a list of pairs
        return {"items": [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the resume state")


def _decode(value: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    keys = set(value)
    if keys == {"tensor"}:
        return tensors[value["tensor"]]
    if keys == {"ndarray", "dtype"}:
        return np.array(value["ndarray"], dtype=np.dtype(value["dtype"]))
    if keys == {"tuple"}:
        return tuple(_decode(v, tensors) for v in value["tuple"])
    if keys == {"items"}:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in value["items"]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def write_state(state: dict[str, Any], folder: Path) -> None:
    """Write `state` (nested dicts, lists, tuples, numbers, strings, tensors, numpy arrays) into `folder`."""
    tensors: dict[str, Tensor] = {}
    encoded = _encode(state, tensors)
    save_file(tensors, folder / STATE_TENSORS)
    text = json.dumps(encoded) + "\n"
    tmp = folder / (STATE_JSON + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / STATE_JSON)


def read_json_state(folder: Path) -> dict[str, Any]:
    """The JSON part of a resume state, decoded without its tensors (a tensor reads as its key): enough to
    compare options before loading anything else."""
    path = folder / STATE_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _decode(data, _KeyOnly())
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise WellreadError(f"{path}: not a resume state written by wellread ({type(err).__name__}: {err}); "
                            "start the run again without --resume") from None


def read_state(folder: Path) -> dict[str, Any]:
    """The state `write_state` wrote into `folder`; WellreadError (one line, the file named) for anything else.
    A legacy pickle (trainer_state.pt) alone is refused without being opened."""
    if not (folder / STATE_JSON).is_file():
        legacy = folder / LEGACY_STATE
        if legacy.is_file():
            raise WellreadError(f"{legacy}: a resume state in pickle format (older wellread), which is not loaded "
                                "because a pickle can run code; start the run again without --resume")
        raise WellreadError(f"{folder} has no {STATE_JSON}: nothing to resume from")
    path = folder / STATE_TENSORS
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise WellreadError(f"{path}: cannot read the resume state's tensors ({err}); start the run again "
                            "without --resume") from None
    try:
        return _decode(json.loads((folder / STATE_JSON).read_text(encoding="utf-8")), tensors)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise WellreadError(f"{folder / STATE_JSON}: not a resume state written by wellread, or not the one of "
                            f"{path} ({type(err).__name__}: {err}); start the run again without --resume") from None


class _KeyOnly(dict):
    """A tensor table that answers every key with the key itself (`read_json_state`)."""

    def __missing__(self, key: str) -> str:
        return key


def has_state(folder: Path) -> bool:
    """Whether `folder` holds a resume state (or a legacy pickle one, which `read_state` refuses)."""
    return (folder / STATE_JSON).is_file() or (folder / LEGACY_STATE).is_file()
