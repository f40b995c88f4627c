"""Time a model's forward pass on every backend: batch-1 latency (p50/p95) and batch-32 throughput by length.

Backends: torch (fp32), torch-bf16, onnx (fp32) and onnx-int8; the ONNX models are read from --onnx-dir (default
the model folder) or, when missing there, exported to a temporary folder first (with the agreement check
printed). Prints a Markdown table and writes bench.json and bench.png (latency and throughput against length)
to --out. Inputs are unpadded random ids: this times the model alone; `benchmarks/e2e_classify.py` times texts
in, labels out. Set --threads (or OMP_NUM_THREADS) to what the deployment will have.

Examples:
  wellread bench sst2-mini --out bench-sst2
  wellread bench sst2-mini --backends torch,onnx-int8 --lengths 32,128 --threads 4 --seconds 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from wellread.errors import WellreadError
from wellread.infer.backends import BACKENDS, ONNX_FILES, load_backend
from wellread.infer.bench import as_json, measure, plot, table
from wellread.infer.export import export_folder
from wellread.infer.load import TASK_HEADS, pipeline_task
from wellread.models.checkpoint import load_model
from wellread.models.folder import read_model_folder


def _list(text: str, kind: type) -> list:
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise WellreadError(f"expected a comma-separated list of {kind.__name__}s, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model folder (classifier, tagger, QA or masked-LM)")
    p.add_argument("--backends", default="torch,torch-bf16,onnx,onnx-int8", help="comma-separated (default: all four)")
    p.add_argument("--lengths", default="16,32,64,128,256", help="sequence lengths (default 16,32,64,128,256)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size of the throughput runs (default 32)")
    p.add_argument("--seconds", type=float, default=2.0, help="time per measurement (default 2)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for every backend (default torch's)")
    p.add_argument("--onnx-dir", type=Path, default=None, help="folder of model.onnx / model_int8.onnx")
    p.add_argument("--out", type=Path, default=Path("bench"), help="folder for bench.json and bench.png")


def run(args: argparse.Namespace) -> int:
    backends = _list(args.backends, str)
    unknown = [b for b in backends if b not in BACKENDS or b == "auto"]
    if unknown:
        raise WellreadError(f"unknown backends {unknown}; choose from torch, torch-bf16, onnx, onnx-int8")
    lengths = _list(args.lengths, int)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = read_model_folder(args.model)
    head = TASK_HEADS[pipeline_task(folder)]
    model, _ = load_model(folder, head)
    if max(lengths) > model.config.max_position_embeddings:
        raise WellreadError(f"length {max(lengths)} is over the model's "
                            f"{model.config.max_position_embeddings} positions")
    with tempfile.TemporaryDirectory() as scratch:
        onnx_dir = args.onnx_dir or folder.path
        wanted = [ONNX_FILES[b] for b in backends if b in ONNX_FILES]
        if any(not (onnx_dir / name).is_file() for name in wanted):
            onnx_dir = Path(scratch)
            print(f"exporting to ONNX first ({onnx_dir})")
            for agreement in export_folder(model, onnx_dir, source=folder.path, int8="onnx-int8" in backends):
                print(agreement.line())
        rows = []
        for name in backends:
            backend = load_backend(folder, head, name, onnx_dir, torch.get_num_threads())
            rows += measure(backend, model.config.vocab_size, lengths, head == "masked-lm", args.batch_size,
                            args.seconds)
            print(f"{name}: done", flush=True)
    print(table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"model": str(folder.path), "threads": torch.get_num_threads(), "rows": as_json(rows)}
    (args.out / "bench.json").write_text(json.dumps(meta, indent=2) + "\n")
    title = f"{folder.path.name}: {model.config.num_hidden_layers} layers x {model.config.hidden_size}, " \
            f"{torch.get_num_threads()} thread(s)"
    print(f"written {args.out / 'bench.json'} and {plot(rows, args.out / 'bench.png', title)}")
    return 0
