"""The options of the recipe stage types that have no command of their own: one dataclass per type, its fields
being the YAML keys (the other stages take their command's options dataclass: see `stages.py`). `check()` returns
(field, message) pairs for values out of range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wellread.options import option

Checks = list[tuple[str, str]]


def _positive(options: object, *names: str) -> Checks:
    return [(n, f"must be > 0, got {getattr(options, n)}") for n in names if getattr(options, n) <= 0]


@dataclass
class PackageDocsOptions:
    """English prose and a topic-classification task from installed packages' docstrings (offline)."""

    words_per_package: int = 120_000
    train_per_label: int = 1200
    dev_per_label: int = 150
    seed: int = 0

    def check(self) -> Checks:
        return _positive(self, "words_per_package", "train_per_label", "dev_per_label")


@dataclass
class EvaluateOptions:
    """Re-evaluate each fine-tuned model from its saved folder, and measure inference speed."""

    split: str = option("dev", choices=("dev", "test"))
    speed: bool = True
    speed_length: int = 128
    speed_batch_sizes: list[int] = field(default_factory=lambda: [1, 32])
    speed_seconds: float = 1.5
    """Timed forward passes per batch size, after two warm-up passes."""
    threads: int = 1
    """torch threads for the speed figures (1: comparable across machines and runs)."""

    def check(self) -> Checks:
        return _positive(self, "speed_length", "threads", "speed_seconds")


@dataclass
class CardOptions:
    """Write the model card (README.md) into every model folder the recipe produced."""

    intended_uses: str = ""
    limitations: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class ExportOptions:
    """ONNX export of each task model (else the latest pretrained one) into its own folder, where `wellread
    classify/serve/bench --backend onnx` find it; each file is checked against PyTorch."""

    int8: bool = True
    """Also write model_int8.onnx (dynamic int8 quantization of the matrix products)."""
