"""Export a model folder to ONNX (dynamic batch and sequence axes), optionally also int8-quantized, and check it.

Writes model.onnx (and with --int8 model_int8.onnx: dynamic int8 quantization of the matrix products) into
--out (default: the model folder itself, where `--backend onnx` / `onnx-int8` of the pipeline commands, serve
and bench look for them), and onnx_check.json. The check runs PyTorch and the exported model on random padded
batches of shapes other than the traced one and prints the largest logit difference and top-1 agreement;
fp32 must agree within 1e-3 or the command fails (exit 1). The int8 figures are reported: compare accuracy on
your own dev data (benchmarks/e2e_classify.py does it for SST-2). ONNX is the one format so far (--format onnx,
the default; --onnx says the same). A recipe's export stage runs the same export on each model it made.

Examples:
  wellread export sst2-mini --int8
  wellread export sst2-mini --out sst2-mini-onnx        # then: --backend onnx --onnx-dir sst2-mini-onnx
  wellread export sst2-mini --onnx --int8
"""

from __future__ import annotations

import sys

from wellread.infer.export import export
from wellread.infer.options import ExportOptions

OPTIONS = ExportOptions


def run(options: ExportOptions) -> int:
    done = export(options)
    for agreement in done.checks:
        print(agreement.line())
    print(f"written to {done.folder}: {', '.join(p.name for p in done.files)}, onnx_check.json")
    if not done.ok:
        print("the exported model does not agree with PyTorch: do not deploy it", file=sys.stderr)
        return 1
    return 0
