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
from functools import lru_cache
from pathlib import Path

from wellread.errors import CheckpointError, ConfigError
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
    in its length_config.json (not the search's notes beside it). Remembered per process while the files' sizes
    and modification times stay the same (a model is read several times per command)."""
    folder = Path(folder).resolve()
    files = [*weight_files(folder), folder / "config.json", folder / LENGTH_CONFIG]
    stamp = tuple((p.name, st.st_size, st.st_mtime_ns) for p in files if p.is_file() for st in [p.stat()])
    return _fingerprint(folder, length_config, stamp)


@lru_cache(maxsize=32)
def _fingerprint(folder: Path, length_config: bool, stamp: tuple) -> str:
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


def check_length_config(folder: str | Path) -> None:
    """ConfigError when the folder's length_config.json records the fingerprint of the weights and config it was
    searched on (`wellread search` does) and they are not the folder's now; a file without one passes."""
    path = Path(folder) / LENGTH_CONFIG
    try:
        info = json.loads(path.read_text(encoding="utf-8")).get("info") or {}
    except (OSError, ValueError, AttributeError):
        return  # absent, or unreadable: read_length_config names the problem
    recorded = info.get("fingerprint") if isinstance(info, dict) else None
    if recorded is not None and recorded != fingerprint(folder, length_config=False):
        raise ConfigError(f"{path} was searched on other weights or config than {Path(folder)} holds now (stale): "
                          f"run `wellread search` on the folder again, or delete {path.name} to run at full length")
