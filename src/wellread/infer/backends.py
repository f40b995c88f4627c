"""Model backends: the one place every pipeline's forward pass goes through.

A backend maps a padded batch to the head's float32 logits:

    inputs   input_ids, attention_mask, token_type_ids: (B, T) int64; masked-LM also masked_positions (B, T) bool
    logits   (B, C) sequence classification, (B, T, C) tagging, (B, T, 2) QA, (M, V) masked-LM at the M masks

Backends (`BACKENDS`):

    torch       the model in PyTorch, fp32 (oneDNN linears on CPU)
    torch-bf16  PyTorch under bf16 autocast (pays where the CPU has AVX512-BF16 or AMX)
    onnx        ONNX Runtime on the folder's model.onnx (written by `wellread export --onnx`)
    onnx-int8   ONNX Runtime on model_int8.onnx (dynamic int8 quantization of the linear layers)
    auto        torch-bf16 where the CPU has native bf16, else torch

Every pipeline's forward pass goes through `Backend.forward`. `TorchBackend` calls the model as `load_model` built
it from the folder, so what the folder configures for inference (a length_config.json: dynamic sequence length)
applies to every pipeline, the server and the benchmarks alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from wellread.errors import WellreadError

BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}
"""Backend -> file name of its ONNX model inside a model folder (or an export folder)."""


class Backend(Protocol):
    """What the pipelines need from a backend."""

    name: str

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """The head's float32 logits for a padded batch (see the module docstring for shapes)."""
        ...


class TorchBackend:
    """A wellread model in PyTorch, in eval mode without autograd; optionally under bf16 autocast."""

    def __init__(self, model: nn.Module, bf16: bool = False) -> None:
        self.model = model.eval()
        self.bf16 = bf16
        self.name = "torch-bf16" if bf16 else "torch"

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.model(**batch).logits.float()


class OnnxBackend:
    """An exported model (`wellread export --onnx`) on ONNX Runtime's CPU provider."""

    def __init__(self, path: str | Path, threads: int | None = None, name: str = "onnx") -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise WellreadError(f"no ONNX model at {path}: run `wellread export --onnx MODEL` first")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.path = path
        self.name = name

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        missing = [n for n in self.input_names if n not in batch]
        if missing:
            raise WellreadError(f"{self.path} needs inputs {missing} that the pipeline did not give")
        feed = {n: np.ascontiguousarray(batch[n].numpy()) for n in self.input_names}
        return torch.from_numpy(self.session.run(None, feed)[0]).float()


def resolve_backend(name: str) -> str:
    """"auto" -> torch-bf16 where the CPU has native bf16, else torch; other names are checked and returned."""
    if name not in BACKENDS:
        raise WellreadError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name != "auto":
        return name
    from wellread.train.loop import bf16_supported

    return "torch-bf16" if bf16_supported() else "torch"


def load_backend(folder: str | Path, head: str, name: str = "auto", onnx_dir: str | Path | None = None,
                 threads: int | None = None) -> Backend:
    """The backend `name` for the model folder `folder` with its `head`.

    ONNX backends read model.onnx / model_int8.onnx from `onnx_dir` (default: the model folder).
    """
    name = resolve_backend(name)
    if name in ONNX_FILES:
        return OnnxBackend(Path(onnx_dir or folder) / ONNX_FILES[name], threads, name)
    from wellread.models.checkpoint import load_model

    model, _ = load_model(folder, head)
    return TorchBackend(model, bf16=name == "torch-bf16")
