"""Inference and deployment: pipelines (classify, tag, answer, fill-mask) on PyTorch or ONNX Runtime backends,
ONNX export with int8 quantization, an HTTP server with micro-batching, and a latency/throughput benchmark.

    from wellread.infer import load_pipeline
    classify = load_pipeline("sst2-mini", backend="onnx-int8")
    classify(["a gripping film", {"text": "A man sleeps.", "text_pair": "Nobody sleeps."}])
"""

from wellread.infer.backends import BACKENDS, Backend, OnnxBackend, TorchBackend, load_backend
from wellread.infer.load import TASK_HEADS, load_pipeline
from wellread.infer.pipeline import Pipeline

__all__ = ["BACKENDS", "TASK_HEADS", "Backend", "OnnxBackend", "Pipeline", "TorchBackend", "load_backend",
           "load_pipeline"]
