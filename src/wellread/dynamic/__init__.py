"""Dynamic sequence length (Length-Adaptive Transformer; Dynamic-TinyBERT): LengthDrop training and the
evolutionary length search.

The length configuration and token dropping inside the encoder are the model's own (`wellread.models.length`,
`wellread.models.drop`); `train`, `search`, `cost` and `plot` are imported where needed.
"""
