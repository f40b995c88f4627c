"""Dynamic sequence length (Length-Adaptive Transformer; Dynamic-TinyBERT): length configurations, token
dropping with drop-and-restore inside the encoder, LengthDrop training and the evolutionary search.

Only `config` and `drop` are imported with the package (the encoder uses them); `train`, `search`, `cost` and
`plot` are imported where needed.
"""

from wellread.dynamic.config import FILE_NAME, LengthConfig, read_length_config, save_length_config

__all__ = ["FILE_NAME", "LengthConfig", "read_length_config", "save_length_config"]
