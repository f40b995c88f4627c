"""What a length configuration costs: FLOPs estimated from the real inputs' lengths (`wellread.models.flops`,
re-exported here), and CPU latency measured on real batches (fp32, no autograd, dynamic padding: batches of
similar lengths padded to their longest).

Shapes: B batch, T tokens, H hidden size, F FFN size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from wellread.models.flops import encoder_flops, layer_flops
from wellread.models.length import LengthConfig
from wellread.tasks.batching import eval_batches, pad_inputs
from wellread.timing import time_calls, time_interleaved

__all__ = ["encoder_flops", "latency_batches", "layer_flops", "measure_latency", "paired_latency"]


def latency_batches(ids: Sequence[np.ndarray], types: Sequence[np.ndarray], pad_id: int, batch_size: int,
                    limit: int | None = None) -> list[dict[str, Tensor]]:
    """Padded batches of similar lengths (as evaluation builds them) from `limit` inputs spread evenly over the
    length range (all when None)."""
    chosen = np.arange(len(ids))
    if limit is not None and limit < len(ids):
        by_length = np.argsort([len(r) for r in ids], kind="stable")
        chosen = by_length[np.linspace(0, len(ids) - 1, limit).round().astype(int)]
    rows = [ids[i] for i in chosen]
    return [pad_inputs([rows[i] for i in b], [types[chosen[i]] for i in b], pad_id)
            for b in eval_batches([len(r) for r in rows], batch_size)]


@torch.inference_mode()
def paired_latency(model: nn.Module, batches: Sequence[dict[str, Tensor]], config: LengthConfig,
                   reference: LengthConfig | None = None, repeats: int = 3) -> tuple[float, float]:
    """Seconds for one pass over `batches` with `config` and with `reference` (None: full length), measured
    together: each batch runs with one, then the other, `repeats` times, and each one's fastest counts.
    Returns (config seconds, reference seconds). Load from other work on the machine hits both alike, so their
    ratio is much steadier than two separate measurements (on this project's shared machine the same
    configuration, measured alone, timed between 1.4x and 2.0x faster than full length within one search)."""
    model.eval()
    if reference is None:  # explicitly: None would mean the model's own length_config
        reference = LengthConfig.full(config.layers)
    total = [0.0, 0.0]
    for i, batch in enumerate(batches):  # the first batch warms up once with each
        times = time_interleaved([_forward(model, batch, config), _forward(model, batch, reference)],
                                 warmup=int(i == 0), repeats=repeats)
        total = [total[0] + min(times[0]), total[1] + min(times[1])]
    return total[0], total[1]


@torch.inference_mode()
def measure_latency(model: nn.Module, batches: Sequence[dict[str, Tensor]], config: LengthConfig,
                    repeats: int = 3) -> float:
    """Seconds for one pass over `batches` with `config`: per batch the fastest of `repeats` runs (robust to
    other work on the machine), summed. One warm-up batch runs first."""
    model.eval()
    seconds = 0.0
    for i, batch in enumerate(batches):  # the first batch warms up once
        seconds += min(time_calls(_forward(model, batch, config), warmup=int(i == 0), repeats=repeats))
    return seconds


def _forward(model: nn.Module, batch: dict[str, Tensor], config: LengthConfig) -> Callable[[], object]:
    """One forward pass of `model` on `batch` at `config`, as a call to time."""
    return lambda: model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], length_config=config)
