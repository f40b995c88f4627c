"""LengthDrop training (Kim & Cho 2021) as a Task on the one training loop.

`LengthDropTask` wraps a fine-tuning task. Each step it runs the sandwich: the full model on the task's own
loss; the smallest sub-model (every layer keeps exactly 1 - p of the previous layer's tokens) and `n` random
sub-models (each layer keeps between 1 - p and all of them), each distilled in place from the full model's
detached outputs (soft cross-entropy; squared error for regression). The losses are averaged and the loop takes
one optimizer step; it back-propagates each model's loss before the next model runs (`loss_parts`), so memory
stays that of one forward pass. Optional LayerDrop: each random sub-model also skips each layer with probability
`layerdrop` (never all of them), and the smallest can be given layers to skip (`smallest_skip`). Data order,
batches and evaluation are the wrapped task's; evaluation reports the full model's metrics and the smallest
sub-model's (prefixed `smallest_`). The loop's MFU counts every model of the sandwich (`flops`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

from wellread.distill.losses import masked_soft_cross_entropy, soft_cross_entropy
from wellread.errors import ConfigError
from wellread.finetune.base import FinetuneTask, forward
from wellread.finetune.tagging import IGNORE
from wellread.models import HeadOutput
from wellread.models.flops import encoder_flops
from wellread.models.length import MIN_TOKENS, LengthConfig, check_drop_probability, sample, smallest


@dataclass(frozen=True)
class Sandwich:
    """The sandwich: drop probability p, random sub-models per step, LayerDrop and the token floor."""

    p: float = 0.2
    sub_models: int = 2
    """Random sub-models per step, besides the full and the smallest."""
    layerdrop: float = 0.0
    """Probability that a random sub-model skips a layer (0: LayerDrop off)."""
    min_tokens: int = MIN_TOKENS
    smallest_skip: tuple[int, ...] = ()
    """Layers the smallest sub-model skips: the sub-network to make as good as possible, e.g. the best skip
    set `wellread search --skip-layers` found on a LayerDrop-trained model."""

    def __post_init__(self) -> None:
        check_drop_probability(self.p)
        if self.sub_models < 0:
            raise ConfigError(f"sub-models per step must be >= 0; got {self.sub_models}")
        if not 0.0 <= self.layerdrop < 1.0:
            raise ConfigError(f"the LayerDrop probability must be in [0, 1); got {self.layerdrop}")
        object.__setattr__(self, "smallest_skip", tuple(sorted({int(i) for i in self.smallest_skip})))
        if self.smallest_skip and self.sub_models < 1:
            raise ConfigError("a smallest sub-model that skips layers needs a random sub-model (sub_models >= 1) "
                              "that runs every layer, to be the part DDP reduces gradients on")


class SubModel:
    """Calls a model with a fixed length configuration, a drop-in for the model in the tasks' `loss` and
    `forward`; keeps the logits of its last call (the full model's become the distillation targets)."""

    def __init__(self, model: nn.Module, config: LengthConfig) -> None:
        self.model, self.config = model, config
        self.logits: Tensor | None = None

    def __call__(self, *args: Tensor, **kwargs: object) -> HeadOutput:
        out = self.model(*args, length_config=self.config, **kwargs)
        self.logits = out.logits
        return out


def _bert_of(model: nn.Module) -> nn.Module:
    """The BertModel inside a head model, a DDP wrapper or itself; ConfigError for other encoders."""
    model = getattr(model, "module", model)
    base = getattr(model, "base", model)
    if base.config.model_type != "bert":
        raise ConfigError(f"LengthDrop is implemented for BERT encoders, not {base.config.model_type}")
    return base


def distillation(task: FinetuneTask, student: Tensor, teacher: Tensor, batch: dict[str, Tensor]) -> Tensor:
    """Summed in-place distillation loss of one sub-model, in the units the task's `weight` counts.

    Classification: soft cross-entropy per example (squared error for regression); QA: the mean of the start
    and end soft cross-entropies over real positions, per window; tagging: soft cross-entropy per labelled token.
    """
    if task.family == "classification":
        if task.regression:
            return ((student.squeeze(-1) - teacher.squeeze(-1)) ** 2).sum()
        return soft_cross_entropy(student, teacher) * len(student)
    if task.family == "qa":
        pad = batch["attention_mask"] == 0  # (B, T)
        s = student.masked_fill(pad[..., None], -1e4).transpose(1, 2)  # (B, 2, T)
        t = teacher.masked_fill(pad[..., None], -1e4).transpose(1, 2)  # (B, 2, T)
        return soft_cross_entropy(s, t) * len(student)  # mean over B x 2 -> sum over B of (start + end) / 2
    if task.family == "tagging":
        labelled = batch["labels"] != IGNORE  # (B, T)
        return masked_soft_cross_entropy(student, teacher, labelled) * labelled.sum()
    raise ConfigError(f"LengthDrop does not know the task family {task.family!r}")


class LengthDropTask:
    """A fine-tuning task trained with LengthDrop, the sandwich rule and in-place distillation."""

    def __init__(self, inner: FinetuneTask, layers: int, options: Sandwich = Sandwich()) -> None:
        self.inner, self.layers, self.options = inner, layers, options
        self.smallest = smallest(layers, options.p, options.min_tokens, options.smallest_skip)

    # --- the wrapped task's data -------------------------------------------------------------------

    def num_examples(self) -> int:
        return self.inner.num_examples()

    def order(self, epoch: int, generator: torch.Generator) -> list[int]:
        return self.inner.order(epoch, generator)

    def collate(self, indices: list[int], seed: int) -> dict:
        """The inner task's batch, plus the seed that draws this batch's sub-models."""
        return self.inner.collate(indices, seed) | {"length_seed": seed}

    def weight(self, batch: dict) -> float:
        return self.inner.weight(batch)

    # --- the sandwich ------------------------------------------------------------------------------

    def sub_models(self, seed: int) -> list[LengthConfig]:
        """The smallest and `sub_models` random sub-models (with LayerDrop, these may skip layers) of one batch.
        When the smallest skips layers, the last random one runs every layer (only dropping tokens)."""
        g = torch.Generator().manual_seed(seed)
        o = self.options
        layerdrop = [o.layerdrop] * o.sub_models
        if self.smallest.skip:
            layerdrop[-1] = 0.0
        return [self.smallest] + [sample(self.layers, o.p, g, o.min_tokens, rate) for rate in layerdrop]

    def loss_parts(self, model: nn.Module, batch: dict) -> list[Callable[[], tuple[Tensor, dict[str, float]]]]:
        """The sandwich as parts the training loop back-propagates one at a time, each divided by the number of
        models: the full model's gold loss (first: its detached logits are the teacher), the random sub-models'
        distillation losses, and the smallest sub-model's last (it runs every layer, which DDP needs of the
        part it reduces gradients on; when it skips layers, a random sub-model that runs them all is last).
        One part's activations are alive at a time, not all of them: the peak memory of fine-tuning, not
        2 + sub_models times it."""
        models = 2 + self.options.sub_models
        smallest, *random = self.sub_models(batch["length_seed"])
        teacher: list[Tensor] = []  # (B, C), (B, T, C) or (B, T, 2), once the full model has run

        def full() -> tuple[Tensor, dict[str, float]]:
            model_at_full = SubModel(model, LengthConfig.full(self.layers))
            gold, stats = self.inner.loss(model_at_full, batch)
            teacher.append(model_at_full.logits.detach().float())
            return gold / models, stats

        def distilled(config: LengthConfig) -> tuple[Tensor, dict[str, float]]:
            logits = forward(SubModel(model, config), batch)
            return distillation(self.inner, logits, teacher[0], batch) / models, {}

        last_runs_all = (*random, smallest) if not smallest.skip else (smallest, *random)  # see sub_models
        return [full] + [partial(distilled, config) for config in last_runs_all]

    def loss(self, model: nn.Module, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """(gold loss of the full model + each sub-model's distillation loss) / models, summed over the batch,
        as one graph (the training loop uses `loss_parts`)."""
        total, stats = torch.zeros(()), {}
        for part in self.loss_parts(model, batch):
            loss, part_stats = part()
            total, stats = total + loss, stats | part_stats
        return total, stats

    def flops(self, model: nn.Module, batch: dict) -> float:
        """Model FLOPs of a micro-batch (the loop's MFU): forward and backward (3 x forward) of each model the
        sandwich runs on it, the full model and the batch's sub-models (`sub_models` of its seed: the same draws
        `loss_parts` makes), each over the real tokens its length configuration keeps per layer (skipped layers
        cost nothing). The teacher is the full model's own detached logits, no extra pass. As in
        `wellread.models.flops`, the task's head (pooler and classifier, or a per-token H x 2 / H x C projection)
        is left out."""
        config = _bert_of(model).config
        lengths = batch["attention_mask"].sum(-1).tolist()  # (B,) real tokens per input
        models = [LengthConfig.full(self.layers), *self.sub_models(batch["length_seed"])]
        return 3.0 * len(lengths) * sum(encoder_flops(config, sub, lengths) for sub in models)  # mean x B = sum

    # --- evaluation and saving ---------------------------------------------------------------------

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """The full model's metrics, and the smallest sub-model's prefixed `smallest_`."""
        base = _bert_of(model)
        saved = base.length_config
        try:
            base.length_config = None
            metrics = self.inner.evaluate(model)
            base.length_config = self.smallest
            small = self.inner.score(model).metrics
        finally:
            base.length_config = saved
        return metrics | {f"smallest_{k}": v for k, v in small.items()}

    def save(self, model: nn.Module, folder: Path) -> None:
        self.inner.save(model, folder)
