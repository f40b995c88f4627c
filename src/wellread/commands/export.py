"""Export a model folder to ONNX (dynamic batch and sequence axes), optionally also int8-quantized, and check it.

Writes model.onnx (and with --int8 model_int8.onnx: dynamic int8 quantization of the matrix products) into
--out (default: the model folder itself, where `--backend onnx` / `onnx-int8` of the pipeline commands, serve
and bench look for them), and onnx_check.json. The check runs PyTorch and the exported model on random padded
batches of shapes other than the traced one and prints the largest logit difference and top-1 agreement;
fp32 must agree within 1e-3 or the command fails (exit 1). The int8 figures are reported: compare accuracy on
your own dev data (benchmarks/e2e_classify.py does it for SST-2).

Examples:
  wellread export sst2-mini --onnx --int8
  wellread export sst2-mini --onnx --out sst2-mini-onnx        # then: --backend onnx --onnx-dir sst2-mini-onnx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wellread.errors import WellreadError
from wellread.infer.export import export_folder
from wellread.infer.load import TASK_HEADS, pipeline_task
from wellread.models.checkpoint import load_model
from wellread.models.folder import read_model_folder


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model folder (classifier, tagger, QA or masked-LM) or hub id")
    p.add_argument("--onnx", action="store_true", help="export to ONNX (the one format so far)")
    p.add_argument("--int8", action="store_true", help="also write model_int8.onnx (dynamic int8 quantization)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the model folder)")


def run(args: argparse.Namespace) -> int:
    if not args.onnx:
        raise WellreadError("choose the export format: --onnx")
    folder = read_model_folder(args.model)
    model, _ = load_model(folder, TASK_HEADS[pipeline_task(folder)])
    out = args.out or folder.path
    report = export_folder(model, out, source=folder.path, int8=args.int8)
    for agreement in report:
        print(agreement.line())
    print(f"written to {out}: {', '.join(p.name for p in sorted(Path(out).glob('model*.onnx')))}, onnx_check.json")
    if not all(a.ok for a in report):
        print("the exported model does not agree with PyTorch: do not deploy it", file=sys.stderr)
        return 1
    return 0
