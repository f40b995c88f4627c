"""ONNX export with dynamic batch and sequence axes, optional int8 dynamic quantization, and an agreement check.

The model is traced with PyTorch's TorchScript exporter (`dynamo=False`) with autograd on, so the plain
`F.linear` path is traced rather than the oneDNN inference kernel and the fused q/k/v cache (both apply only
without autograd). The example batch contains padding, so the attention-mask path is in the graph; batches
without padding give the same result through it.

`check_agreement` runs the exported model and PyTorch on fresh random batches of several shapes (with padding)
and reports the largest absolute logit difference and how often the top prediction agrees: reported, not
assumed. fp32 must agree to `FP32_TOLERANCE`; int8 is reported beside it.

Each exported file records the fingerprint of the model folder it came from (weights, config with its labels,
length configuration: `wellread.models.fingerprint`) in its ONNX metadata (`FINGERPRINT_KEY`), and
onnx_check.json records it beside the checks: the ONNX backends refuse a file whose fingerprint is not the
folder's (the weights or labels changed since the export).

`export(ExportOptions)` is the whole job, from a model folder to checked files: `wellread export` and a recipe's
export stage both call it.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    import onnx

from wellread.infer.backends import FINGERPRINT_KEY, ONNX_FILES, OnnxBackend, TorchBackend, pipeline_model
from wellread.infer.load import TASK_HEADS, pipeline_task
from wellread.infer.options import ExportOptions
from wellread.models.fingerprint import fingerprint
from wellread.models.folder import read_model_folder
from wellread.textio import write_text_atomic

FP32_TOLERANCE = 1e-3
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CHECK_SHAPES = ((1, 7), (3, 33), (8, 64))
"""(batch, length) of the agreement-check batches: none of them the traced example's shape."""


class LogitsOnly(nn.Module):
    """A head model whose forward returns the logits tensor alone (what the exporter can trace)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor,
                masked_positions: Tensor | None = None) -> Tensor:
        if masked_positions is None:
            return self.model(input_ids, attention_mask, token_type_ids).logits
        return self.model(input_ids, attention_mask, token_type_ids, masked_positions=masked_positions).logits


def example_batch(model: nn.Module, batch: int, length: int, seed: int = 0) -> dict[str, Tensor]:
    """Random ids (B, T), padded in every row but the first, a second segment from T/2; masked-LM: about 4
    masked positions per row."""
    generator = torch.Generator().manual_seed(seed)
    config = model.config
    ids = torch.randint(1, config.vocab_size, (batch, length), generator=generator)  # (B, T)
    lengths = torch.randint(max(1, length // 2), length + 1, (batch,), generator=generator)
    lengths[0] = length
    mask = (torch.arange(length)[None] < lengths[:, None]).long()  # (B, T)
    ids = ids.masked_fill(mask == 0, config.pad_token_id)
    types = torch.zeros_like(ids)
    types[:, length // 2:] = 1
    out = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types * mask}
    if model.head == "masked-lm":
        positions = torch.zeros_like(mask, dtype=torch.bool)
        positions[:, 1:length:max(1, length // 4)] = True
        out["masked_positions"] = positions & mask.bool()
    return out


def export_onnx(model: nn.Module, path: str | Path, opset: int = 17) -> Path:
    """Write `model` (a wellread head model) to `path` as ONNX with dynamic batch and sequence axes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = example_batch(model, 2, 16)
    names = list(example)
    token_axes = {0: "batch", 1: "sequence"}
    if model.head == "masked-lm":
        output_axes = {0: "masks"}
    elif model.head == "sequence-classification":
        output_axes = {0: "batch"}
    else:
        output_axes = token_axes
    wrapper = LogitsOnly(model).eval()
    with torch.enable_grad(), warnings.catch_warnings():
        # the padding-mask branch is traced on purpose (the example has padding): not a warning for the user
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript exporter, chosen on purpose
        torch.onnx.export(wrapper, tuple(example[n] for n in names), str(path), input_names=names,
                          output_names=["logits"], dynamic_axes={**{n: token_axes for n in names},
                                                                 "logits": output_axes},
                          opset_version=opset, dynamo=False, external_data=False)
    model.eval()
    return path


def untie_weights(model: onnx.ModelProto) -> int:
    """Give every node after the first its own copy of a shared weight; returns how many copies were made.

    ONNX Runtime's quantizer rewrites a Gemm's weight in place (transposed for MatMul); the masked-LM decoder
    shares its weight with the word-embedding lookup, which that would break.
    """
    from onnx import numpy_helper

    weights = {init.name: init for init in model.graph.initializer}
    seen: set[str] = set()
    copies = 0
    for node in model.graph.node:
        for k, name in enumerate(node.input):
            if name not in weights:
                continue
            if name in seen:
                copies += 1
                copy = numpy_helper.from_array(numpy_helper.to_array(weights[name]), f"{name}.copy{copies}")
                model.graph.initializer.append(copy)
                node.input[k] = copy.name
            seen.add(name)
    return copies


def quantize_int8(source: str | Path, target: str | Path) -> Path:
    """Dynamic int8 quantization of an exported model's matrix products (int8 weights, one scale per output
    channel, 7 bits of range; activations quantized per batch); embedding lookups stay fp32 (they cost no compute).

    7-bit weights: on x86 CPUs without VNNI (AVX2, AVX-512 without VNNI) ONNX Runtime multiplies uint8
    activations by int8 weights with an instruction whose int16 sums saturate; full-range weights then give
    wrong logits (all-MiniLM-L6-v2 on SST-2, AMD Zen 3: 88.07 against 89.45 fp32, per-tensor scales). Per-channel
    scales win back what the lost bit costs (88.99 there, as fast), and the file stays right on any CPU it is
    served from (docs/benchmarks.md, "int8 on CPUs without VNNI")."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = Path(target)
    model = onnx.load(str(source))
    untied = target.with_suffix(".untied.onnx")
    if untie_weights(model):
        onnx.save(model, str(untied))
        source = untied
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs advice meant for image models
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         op_types_to_quantize=["MatMul", "Gemm"])
    finally:
        logging.getLogger().setLevel(quiet)
        untied.unlink(missing_ok=True)
    return target


@dataclass
class Agreement:
    """How an exported model's logits compare with PyTorch fp32 on the check batches."""

    backend: str
    max_abs_diff: float
    max_abs_logit: float
    top1_agreement: float  # share of rows (tokens for token-level heads) with the same argmax
    tolerance: float | None  # None: reported only (int8)

    @property
    def ok(self) -> bool:
        return self.tolerance is None or self.max_abs_diff <= self.tolerance

    def line(self) -> str:
        verdict = "" if self.tolerance is None else (" OK" if self.ok else f" FAILED (tolerance {self.tolerance:g})")
        return (f"{self.backend:<10} max |logit diff| {self.max_abs_diff:.2e} (largest logit "
                f"{self.max_abs_logit:.2f}), top-1 agreement {100 * self.top1_agreement:.1f}%{verdict}")


def check_agreement(model: nn.Module, onnx_path: str | Path, backend: str,
                    tolerance: float | None = FP32_TOLERANCE) -> Agreement:
    """Compare an exported model with PyTorch fp32 on `CHECK_SHAPES` random padded batches."""
    reference, exported = TorchBackend(model), OnnxBackend(onnx_path, name=backend)
    diff = largest = 0.0
    agree = total = 0
    for seed, (batch, length) in enumerate(CHECK_SHAPES, start=1):
        inputs = example_batch(model, batch, length, seed)
        ref, out = reference.forward(inputs), exported.forward(inputs)
        if ref.dim() == 3:  # token-level heads: compare real tokens only
            keep = inputs["attention_mask"].bool()
            ref, out = ref[keep], out[keep]
        diff = max(diff, float((ref - out).abs().max()))
        largest = max(largest, float(ref.abs().max()))
        agree += int((ref.argmax(-1) == out.argmax(-1)).sum())
        total += ref.shape[0]
    return Agreement(backend, diff, largest, agree / max(total, 1), tolerance)


def stamp(path: Path, value: str) -> None:
    """Record `value` as the fingerprint (`FINGERPRINT_KEY`) in the metadata of the ONNX model at `path`."""
    import onnx

    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key != FINGERPRINT_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = FINGERPRINT_KEY, value
    onnx.save(model, str(path))


def export_folder(model: nn.Module, out: str | Path, *, source: str | Path, int8: bool = False) -> list[Agreement]:
    """model.onnx (and model_int8.onnx) in `out`, each checked against PyTorch and stamped with the fingerprint of
    the model folder `source` that `model` was loaded from; writes onnx_check.json (the fingerprint and the
    checks)."""
    out = Path(out)
    value = fingerprint(source)
    fp32 = export_onnx(model, out / ONNX_FILES["onnx"])
    stamp(fp32, value)
    report = [check_agreement(model, fp32, "onnx")]
    int8_path = out / ONNX_FILES["onnx-int8"]
    if int8:
        quantize_int8(fp32, int8_path)
        stamp(int8_path, value)
        report.append(check_agreement(model, int8_path, "onnx-int8", tolerance=None))
    checks = [asdict(a) | {"ok": a.ok} for a in report]
    write_text_atomic(out / "onnx_check.json", json.dumps({"fingerprint": value, "checks": checks}, indent=2) + "\n")
    return report


@dataclass
class Export:
    """What `export` wrote, and how each file agrees with PyTorch."""

    folder: Path
    files: list[Path]
    checks: list[Agreement]

    @property
    def ok(self) -> bool:
        """Whether every checked file agrees within its tolerance (fp32: `FP32_TOLERANCE`)."""
        return all(a.ok for a in self.checks)


def export(options: ExportOptions) -> Export:
    """`wellread export` and a recipe's export stage: read the model folder `options.model`, load its model with
    the head it was saved with (a bare encoder: its last hidden states, which the embed pipeline pools outside the
    graph, so one file serves every pooling), write `options.format` files into `options.out` (default the model
    folder) and check each against PyTorch (`export_folder`)."""
    folder = read_model_folder(options.model)
    model = pipeline_model(folder, TASK_HEADS[pipeline_task(folder)])
    out = Path(options.out or folder.path)
    checks = export_folder(model.eval(), out, source=folder.path, int8=options.int8)
    files = [out / ONNX_FILES[a.backend] for a in checks]
    return Export(out, files, checks)
