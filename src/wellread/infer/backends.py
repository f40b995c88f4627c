"""Model backends: the one place every pipeline's forward pass goes through.

A backend maps a padded batch to the head's float32 logits:

    inputs   input_ids, attention_mask, token_type_ids: (B, T) int64; masked-LM also masked_positions (B, T) bool
    logits   (B, C) sequence classification, (B, T, C) tagging, (B, T, 2) QA, (M, V) masked-LM at the M masks,
             (B, T, H) a bare encoder's last hidden states (`TokenStates`: the embed pipeline pools them)

Backends (`BACKENDS`):

    torch       the model in PyTorch, fp32 (oneDNN linears on CPU)
    torch-bf16  PyTorch under bf16 autocast (pays where the CPU has AVX512-BF16 or AMX)
    onnx        ONNX Runtime on the folder's model.onnx (written by `wellread export --onnx`)
    onnx-int8   ONNX Runtime on model_int8.onnx (dynamic int8 quantization of the linear layers)
    auto        torch, with bf16 autocast for batches of at least AUTO_BF16_TOKENS tokens where the CPU has
                native bf16 (below that bf16 is slower: all-MiniLM-L6-v2, 1 thread, one 25-token input
                fp32 7.2 ms vs bf16 7.8 ms; 2 x 25 tokens 8.3 vs 7.6; 32 x 25 tokens 104 vs 68)

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
from wellread.hardware import bf16_supported
from wellread.models.checkpoint import load_model
from wellread.models.fingerprint import fingerprint
from wellread.models.folder import ModelFolder
from wellread.models.heads import HeadOutput

BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}
"""Backend -> file name of its ONNX model inside a model folder (or an export folder)."""
FINGERPRINT_KEY = "wellread_fingerprint"
"""The ONNX metadata key holding the fingerprint of the model folder a file was exported from."""


class Backend(Protocol):
    """What the pipelines need from a backend."""

    name: str

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """The head's float32 logits for a padded batch (see the module docstring for shapes)."""
        ...


class TokenStates(nn.Module):
    """A bare encoder (head "base") as the backends and the exporter see a head model: its output's `logits` are
    the last hidden states (B, T, H), after the length configuration's drop-and-restore (every position)."""

    head = "base"

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None) -> HeadOutput:
        out = self.encoder(input_ids, attention_mask, token_type_ids)
        return HeadOutput(out.last_hidden_state, out)  # (B, T, H)


def pipeline_model(folder: ModelFolder, head: str) -> nn.Module:
    """The PyTorch model a pipeline (and its ONNX export) runs: the folder's `head` model, which must load
    complete (config.json and weights agree); a bare encoder ("base") wrapped in `TokenStates` (its pooler, which
    no pipeline uses, may be absent; the encoder's weights must match exactly)."""
    if head == "base":
        encoder, _ = load_model(folder, head, complete=False)
        return TokenStates(encoder).eval()
    model, _ = load_model(folder, head, complete=True)
    return model


AUTO_BF16_TOKENS = 48
"""The `auto` backend uses bf16 autocast for batches of at least this many tokens (padding included)."""


class TorchBackend:
    """A wellread model in PyTorch, in eval mode without autograd; optionally under bf16 autocast, for every
    batch or (`bf16_min_tokens`) only for batches of at least that many tokens."""

    def __init__(self, model: nn.Module, bf16: bool = False, bf16_min_tokens: int = 0, name: str | None = None
                 ) -> None:
        self.model = model.eval()
        self.bf16, self.bf16_min_tokens = bf16, bf16_min_tokens
        self.name = name or ("torch-bf16" if bf16 else "torch")

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        bf16 = self.bf16 and batch["input_ids"].numel() >= self.bf16_min_tokens
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return self.model(**batch).logits.float()


class OnnxBackend:
    """An exported model (`wellread export --onnx`) on ONNX Runtime's CPU provider; with `fingerprint` (the
    model folder's), a file exported from other weights, config or length configuration is refused."""

    def __init__(self, path: str | Path, threads: int | None = None, name: str = "onnx",
                 fingerprint: str | None = None, folder: str | Path | None = None) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise WellreadError(f"no ONNX model at {path}: run `wellread export --onnx MODEL` first")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except _ort_load_errors() as err:  # a truncated or damaged file, another program's graph
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise WellreadError(f"ONNX Runtime cannot load {path} ({type(err).__name__}: {first}); export it "
                                "again with `wellread export --onnx MODEL`") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.path = path
        self.name = name
        recorded = self.session.get_modelmeta().custom_metadata_map.get(FINGERPRINT_KEY)
        if fingerprint is not None and recorded != fingerprint:
            source = folder or path.parent
            found = "records no fingerprint" if recorded is None else "was exported from other weights or config"
            raise WellreadError(f"{path} {found} than the model folder {source} has now (stale: the weights, labels "
                                f"or length configuration changed): export it again, `wellread export --onnx "
                                f"{source}`")

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        missing = [n for n in self.input_names if n not in batch]
        if missing:
            raise WellreadError(f"{self.path} needs inputs {missing} that the pipeline did not give")
        feed = {n: np.ascontiguousarray(batch[n].numpy()) for n in self.input_names}
        return torch.from_numpy(self.session.run(None, feed)[0]).float()


def _ort_load_errors() -> tuple[type[Exception], ...]:
    """What ONNX Runtime raises for a model file it cannot load (its exceptions share no base but Exception)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return (state.InvalidProtobuf, state.InvalidGraph, state.Fail, state.NoSuchFile, state.NoModel,
            state.InvalidArgument, state.NotImplemented, state.RuntimeException)


def resolve_backend(name: str) -> str:
    """The backend name checked; "auto" stays "auto" (`load_backend` resolves it)."""
    if name not in BACKENDS:
        raise WellreadError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


def load_backend(folder: ModelFolder, head: str, name: str = "auto", onnx_dir: str | Path | None = None,
                 threads: int | None = None) -> Backend:
    """The backend `name` for the model folder `folder` with its `head`.

    ONNX backends read model.onnx / model_int8.onnx from `onnx_dir` (default: the model folder), and refuse one
    whose fingerprint (recorded by the export) is not the folder's. The PyTorch model must load complete: a folder
    whose config.json and weights disagree (a head that would be randomly initialised) is refused, naming the
    weights.
    """
    name = resolve_backend(name)
    if name in ONNX_FILES:
        return OnnxBackend(Path(onnx_dir or folder.path) / ONNX_FILES[name], threads, name,
                           fingerprint=fingerprint(folder.path), folder=folder.path)
    model = pipeline_model(folder, head)
    if name == "auto":
        return TorchBackend(model, bf16=bf16_supported(), bf16_min_tokens=AUTO_BF16_TOKENS, name="auto")
    return TorchBackend(model, bf16=name == "torch-bf16")
