"""fp32 inference kernels for CPUs: oneDNN's GEMM instead of MKL's, on weights packed once into its layout.

`Linear` (an nn.Linear with the same parameters and state-dict keys) and `FusedLinear` (several projections of
one input as one GEMM: attention's query, key and value) run these kernels for fp32 inference without autograd;
with autograd or autocast on (or for a single row) they run F.linear. Importing this module raises oneDNN's
primitive cache (`PRIMITIVE_CACHE`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PRIMITIVE_CACHE = "16384"
"""oneDNN primitives kept (its default: 1024). oneDNN builds one per input shape, and `linear` runs a GEMM
per (rows, weight) pair: serving one input at a time with lengths up to 384 makes up to 4 x 384 shapes for the
full model and several times more with token dropping, and past the capacity every call rebuilds its primitive.
On 256 SQuADShifts windows at batch 1, MiniLM ran 1.15x faster with the larger cache, at full length and
with token dropping (benchmarks/onednn_cache.py). oneDNN reads it when it first needs the cache, so it is set
when this module is imported; an ONEDNN_PRIMITIVE_CACHE_CAPACITY already in the environment wins."""
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", PRIMITIVE_CACHE)

ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
ONEDNN_PACK = ONEDNN_LINEAR and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")


def onednn_inference(x: Tensor, weight: Tensor) -> bool:
    """Whether `linear` runs oneDNN's kernel: fp32 on CPU without autograd or autocast."""
    return (ONEDNN_LINEAR and not torch.is_grad_enabled() and x.dtype == weight.dtype == torch.float32
            and x.device.type == "cpu" and not torch.is_autocast_enabled("cpu"))


class PackedWeight:
    """A weight reordered once into oneDNN's blocked layout, rebuilt when the source weights change.

    oneDNN otherwise reorders a plain weight on every call, a cost independent of the rows: with few rows
    (batch 1, or the few tokens a shortened layer keeps) a packed weight is ~30% faster, with many ~5%.
    Results are bitwise the same as with the plain weight (`linear` does not use oneDNN for one row).
    The packed tensor is a cache: deep copies and pickles of its module start empty.
    """

    def __init__(self) -> None:
        self._cache: tuple[tuple, Tensor] | None = None  # (source weight versions, packed weight)

    def get(self, sources: tuple[Tensor, ...], weight: Callable[[], Tensor]) -> Tensor:
        """The packed form of `weight()` (an (out, in) fp32 matrix built from `sources`)."""
        key = tuple((p.data_ptr(), p._version) for p in sources)  # rebuilt when any source changes
        cache = self._cache
        if cache is None or cache[0] != key:
            cache = self._cache = (key, torch.ops.mkldnn._reorder_linear_weight(weight()))
        return cache[1]

    def __deepcopy__(self, memo: dict) -> PackedWeight:
        return PackedWeight()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


def linear(x: Tensor, weight: Tensor, bias: Tensor | None, packed: PackedWeight | None = None,
           sources: tuple[Tensor, ...] | None = None) -> Tensor:
    """F.linear; for fp32 inference on CPU, oneDNN's kernel instead of MKL's sgemm, on `packed`'s copy of the
    weight when given one (`sources`: the parameters `weight` is built from, default the weight itself).

    MKL takes a generic code path on AMD CPUs: on this project's Zen 5 machine oneDNN's fp32 GEMM was 2.5x
    faster (benchmarks/encoder_speed.py). For one row (the pooler and classifier at batch 1) MKL's
    matrix-vector product is as fast or faster (2x for a 384 x 384 pooler; benchmarks/linear_kernels.py), so
    F.linear runs. With autograd or autocast on, the ordinary op runs.
    """
    if x.numel() > x.size(-1) and onednn_inference(x, weight):
        w = weight
        if packed is not None and ONEDNN_PACK:
            w = packed.get(sources or (weight,), lambda: weight)
        out = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, x.size(-1)), w, bias, "none", [], "")
        return out.view(*x.shape[:-1], weight.size(0))
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """nn.Linear (same parameters and state-dict keys) whose forward is `linear` above, on a packed weight."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        self.packed = PackedWeight()

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias, self.packed)


class FusedLinear:
    """Linear layers of one input run as one GEMM on their concatenated weights, without autograd (faster on CPU).

    The concatenated (and packed) weights are a cache, rebuilt when any source parameter changes in place (an
    optimizer step); deep copies and pickles of its module start empty.
    """

    def __init__(self) -> None:
        self._cache: tuple[tuple, Tensor, Tensor] | None = None  # (parameter versions, W, b)
        self.packed = PackedWeight()  # W packed for oneDNN

    def __call__(self, x: Tensor, layers: Sequence[nn.Linear]) -> Tensor:
        """(B, T, in) -> (B, T, sum of the layers' out features), the layers' outputs side by side."""
        weights = tuple(layer.weight for layer in layers)
        params = (*weights, *(layer.bias for layer in layers))
        key = tuple((p.data_ptr(), p._version) for p in params)  # rebuilt when any weight changes
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, torch.cat(weights), torch.cat(params[len(weights):]))
        return linear(x, self._cache[1], self._cache[2], self.packed, weights)

    def __deepcopy__(self, memo: dict) -> FusedLinear:
        return FusedLinear()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
