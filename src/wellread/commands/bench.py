"""Time a model's forward pass on every backend: batch-1 latency (p50/p95) and batch-32 throughput by length,
with the throughput's MFU (forward model FLOPs per second over this CPU's peak GEMM rate in the backend's precision,
from `wellread doctor`'s cached probe).

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

from wellread.infer.bench import bench
from wellread.infer.options import BenchOptions

OPTIONS = BenchOptions


def run(options: BenchOptions) -> int:
    bench(options)
    return 0
