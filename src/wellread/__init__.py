"""wellread: compact BERT models end to end, Hugging Face-compatible."""

__version__ = "0.1.0"
