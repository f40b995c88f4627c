"""What a model folder's weights and config are, in one string: the fingerprint derived files record.

Files derived from a model folder (`export`'s ONNX files and onnx_check.json, `search`'s length_config.json, a
recipe's model card) record the fingerprint of what they came from; a reader compares it with the folder's own
and refuses a stale file (an ONNX model exported before the weights or labels changed would otherwise serve the
old model under the new labels).

    fingerprint(folder)                          # sha256 of the weights, config.json (labels included) and
                                                 # length_config.json's configuration
    fingerprint(folder, length_config=False)     # without the length configuration (what a search records)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from wellread.errors import CheckpointError
from wellread.models.length import FILE_NAME as LENGTH_CONFIG

CHUNK = 1 << 20


def weight_files(folder: Path) -> list[Path]:
    """The files holding a model folder's weights, in the order `read_state_dict` reads them."""
    for name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / name
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            except (OSError, ValueError, KeyError, AttributeError) as err:
                raise CheckpointError(f"{index} is not a valid shard index ({err})") from None
            return [folder / s for s in shards]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return [folder / name]
    raise CheckpointError(f"{folder} has no weights (model.safetensors or pytorch_model.bin)")


def _canonical(path: Path, drop: tuple[str, ...] = ()) -> bytes:
    """A JSON file's content with sorted keys (`drop`: top-level keys left out); b"" when absent."""
    if not path.is_file():
        return b""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"cannot read {path}: {err}") from None
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in drop}
    return json.dumps(data, sort_keys=True).encode()


def fingerprint(folder: str | Path, length_config: bool = True) -> str:
    """"sha256:<hex>" of the folder's weight files, its config.json and (with `length_config`) the configuration
    in its length_config.json (not the search's notes beside it)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in weight_files(folder):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    digest.update(b"\0config\0" + _canonical(folder / "config.json"))
    if length_config:
        digest.update(b"\0length\0" + _canonical(folder / LENGTH_CONFIG, drop=("info",)))
    return "sha256:" + digest.hexdigest()
