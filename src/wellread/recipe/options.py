"""The options of each recipe stage type: one dataclass per type, its fields being the YAML keys.

An input option (`corpus`, `tokenizer`, `packed`, `model`, `data`) left out is taken from the latest earlier
stage that produced that kind of output. `check()` returns (field, message) pairs for values out of range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wellread.recipe.schema import choices

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
class CorpusOptions:
    """`corpus build`: raw files -> clean, de-duplicated corpus (the snapshot)."""

    inputs: list[str] | None = None
    """Files, folders or globs (default: the previous stage's raw text)."""
    exclude: list[str] = field(default_factory=list)
    decontaminate: list[str] = field(default_factory=list)
    snapshot_date: str | None = None
    input_format: str = field(default="auto", metadata=choices("auto", "text", "jsonl", "wiki", "wet", "conll"))
    text_field: str = "text"
    doc_split: str = field(default="auto", metadata=choices("auto", "blank-line", "line"))
    min_words: int = 5
    min_stopword_ratio: float = 0.05
    exact_dedup: bool = True
    near_dedup: bool = True
    near_threshold: float = 0.8
    workers: int = 0

    def check(self) -> Checks:
        return [("near_threshold", "must be in (0, 1]")] if not 0 < self.near_threshold <= 1 else []


@dataclass
class TokenizerOptions:
    """A fresh uncased (or cased) WordPiece vocabulary trained on the corpus."""

    corpus: str | None = None
    vocab_size: int = 30522
    min_frequency: int = 2
    lowercase: bool = True
    limit_alphabet: int = 1000

    def check(self) -> Checks:
        return _positive(self, "vocab_size", "limit_alphabet")


@dataclass
class PackOptions:
    """Tokenize the corpus into two-segment training sequences."""

    corpus: str | None = None
    tokenizer: str | None = None
    max_length: list[int] = field(default_factory=lambda: [128])
    val_permille: int = 10
    short_seq_prob: float = 0.1
    seed: int = 0

    def check(self) -> Checks:
        bad = [n for n in self.max_length if not 8 <= n <= 4096]
        return [("max_length", f"values must be in 8..4096, got {bad}")] if bad else []


@dataclass
class PretrainOptions:
    """Masked-LM (+ optional sentence order) pretraining; `phases` are LENGTH:STEPS items."""

    packed: str | None = None
    model: str = "tiny"
    """A preset (see `wellread models`), a config.json or a model folder to continue from."""
    phases: list[str] = field(default_factory=lambda: ["128:1000"])
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-3
    warmup: float = 0.06
    weight_decay: float = 0.01
    optimizer: str = field(default="adamw", metadata=choices("adamw", "lamb"))
    masking: str = field(default="wordpiece", metadata=choices("wordpiece", "whole-word"))
    mask_rate: float = 0.15
    sop: bool = False
    bf16: str = field(default="auto", metadata=choices("auto", "on", "off"))
    eval_every: int = 500
    eval_sequences: int = 2000
    save_every: int = 500
    threads: int = 0
    seed: int = 0

    def check(self) -> Checks:
        bad = [p for p in self.phases if len(p.split(":")) != 2 or not all(x.isdigit() for x in p.split(":"))]
        out = [("phases", f"items are LENGTH:STEPS, e.g. 128:1000; got {bad}")] if bad else []
        return out + _positive(self, "batch_size", "grad_accum", "lr", "eval_every", "save_every")


@dataclass
class FinetuneOptions:
    """Fine-tune the model on a task (GLUE/SICK names, squad, ner, pos, or custom files)."""

    task: str
    data: list[str] | None = None
    """A data folder or SPLIT=FILE items (default: the previous stage's task data)."""
    model: str | None = None
    """Model folder or hub id (default: the previous stage's model)."""
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    regression: bool = False
    epochs: float | None = None
    max_steps: int = 0
    batch_size: int = 32
    lr: float = 1e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int | None = None
    train_limit: int | None = None
    dev_limit: int | None = None
    eval_every: int | None = None
    skip_bad_rows: bool = False
    new_head: bool = False
    bf16: str = field(default="auto", metadata=choices("auto", "on", "off"))
    seed: int = 0
    grid: bool = False
    grid_batch_sizes: list[int] = field(default_factory=lambda: [8, 16, 32, 64, 128])
    grid_lrs: list[float] = field(default_factory=lambda: [3e-4, 1e-4, 5e-5, 3e-5])

    def check(self) -> Checks:
        return _positive(self, "batch_size", "lr")


@dataclass
class EvaluateOptions:
    """Re-evaluate each fine-tuned model from its saved folder, and measure inference speed."""

    split: str = field(default="dev", metadata=choices("dev", "test"))
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
class DistillOptions:
    """Task distillation: a fine-tuned teacher's predictions (and, with a shared tokenizer, its layers) into the
    student, which then holds the task's head."""

    task: str
    data: list[str] | None = None
    """A data folder or SPLIT=FILE items (default: the previous stage's task data)."""
    teacher: str | None = None
    """A fine-tuned model folder or hub id (default: the previous fine-tune stage's model)."""
    student: str | None = None
    """A model folder (default: the previous stage's pretrained model)."""
    method: str = field(default="auto", metadata=choices("auto", "both", "intermediate", "prediction"))
    """`wellread distill --stage`: auto = both (layers, then predictions) when the tokenizers match, else prediction."""
    alpha: float = 0.5
    temperature: float = 1.0
    transfer: list[str] = field(default_factory=list)
    layer_map: str | None = None
    intermediate_epochs: float = 10.0
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    regression: bool = False
    epochs: float | None = None
    max_steps: int = 0
    batch_size: int = 32
    lr: float = 1e-4
    max_length: int | None = None
    train_limit: int | None = None
    dev_limit: int | None = None
    new_head: bool = False
    bf16: str = field(default="auto", metadata=choices("auto", "on", "off"))
    seed: int = 0

    def check(self) -> Checks:
        bad = [] if 0 <= self.alpha <= 1 else [("alpha", f"must be in [0, 1], got {self.alpha}")]
        return bad + _positive(self, "temperature", "batch_size", "lr")


@dataclass
class GeneralDistillOptions:
    """General distillation: a pretrained teacher's layers into a fresh student with the teacher's vocabulary,
    over raw text (TinyBERT's first stage)."""

    teacher: str
    """A pretrained model folder or hub id."""
    student: str = "tiny"
    """A preset, a config.json or a model folder with the teacher's vocabulary."""
    data: list[str] | None = None
    """Text files, a corpus folder or a corpus packed with the teacher's tokenizer (default: the corpus)."""
    epochs: float | None = None
    max_steps: int = 0
    batch_size: int = 32
    lr: float = 5e-4
    max_length: int | None = None
    layer_map: str | None = None
    layer_losses: str = "embedding,hidden,attention"
    bf16: str = field(default="auto", metadata=choices("auto", "on", "off"))
    seed: int = 0

    def check(self) -> Checks:
        return _positive(self, "batch_size", "lr")


@dataclass
class ExportOptions:
    """ONNX export of each task model (else the latest pretrained one) into its own folder, where `wellread
    classify/serve/bench --backend onnx` find it; each file is checked against PyTorch."""

    int8: bool = True
    """Also write model_int8.onnx (dynamic int8 quantization of the matrix products)."""


@dataclass
class LengthDropOptions:
    """LengthDrop training (Length-Adaptive Transformer): the fine-tuned model learns to work with fewer tokens
    per layer, ready for the length search."""

    task: str
    data: list[str] | None = None
    """A data folder or SPLIT=FILE items (default: the previous stage's task data)."""
    model: str | None = None
    """A fine-tuned model folder (default: the previous fine-tune or distill stage's)."""
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    regression: bool = False
    epochs: float = 1.0
    batch_size: int = 32
    lr: float = 5e-5
    max_length: int | None = None
    train_limit: int | None = None
    dev_limit: int | None = None
    length_drop_prob: float = 0.2
    sub_models: int = 2
    layerdrop: float = 0.0
    bf16: str = field(default="auto", metadata=choices("auto", "on", "off"))
    seed: int = 0

    def check(self) -> Checks:
        bad = [] if 0 <= self.length_drop_prob < 1 else [("length_drop_prob", "must be in [0, 1)")]
        return bad + _positive(self, "epochs", "batch_size", "lr")


@dataclass
class SearchOptions:
    """Length search on the latest task model: the fastest tokens-per-layer configuration within `max_drop`
    metric points, saved into the model folder (length_config.json), where every pipeline then uses it."""

    max_drop: float = 1.0
    cost: str = field(default="latency", metadata=choices("latency", "flops"))
    iterations: int = 30
    population: int = 16
    batch_size: int = 32
    latency_examples: int | None = None
    threads: int = 1
    skip_layers: bool = False
    """Also search over skipping whole layers (the task model must be trained with LayerDrop)."""
    seed: int = 0
    refine: int = 0
    """Evaluations at most for hill-climbing from the choice after the evolution (`wellread search --refine`)."""

    def check(self) -> Checks:
        negative = [("refine", f"must be >= 0, got {self.refine}")] if self.refine < 0 else []
        return _positive(self, "population", "batch_size", "threads") + negative
