"""Serve a fine-tuned model (or a masked-LM) over HTTP: a JSON API with request micro-batching and limits.

The model's pipeline answers POST /classify, /tag, /answer or /fill-mask (whichever the model's head does):
body {"inputs": [record, ...]}, reply {"outputs": [output, ...]} in the same order; records and outputs are
those of the matching command (`wellread classify --help`, ...). GET /health reports the model, backend,
limits and counters. Records of concurrent requests run together in batches of up to --batch-size (waiting at
most --max-wait-ms for a batch to fill). Limits: a body over --max-body-bytes or more than --max-inputs inputs
is refused with 413, malformed JSON, a bad record or a text over --max-chars characters with 422; the message
says what was wrong. Ctrl-C / SIGTERM: open requests finish (up to --grace seconds), then the server exits.

Examples:
  wellread serve sst2-mini --port 8000
  curl -s localhost:8000/classify -d '{"inputs": ["a gripping film", {"text": "dull", "id": 2}]}'
  curl -s localhost:8000/health
  wellread serve qa-mini --backend onnx-int8 --host 0.0.0.0 --max-inputs 16 --max-chars 50000
"""

from __future__ import annotations

import argparse
import sys

from wellread.infer.backends import BACKENDS
from wellread.infer.load import load_pipeline
from wellread.infer.serve import Limits, serve


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a fine-tuned model folder (classifier, tagger, QA) or a masked-LM")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="as in `wellread classify` (default auto)")
    p.add_argument("--onnx-dir", default=None, help="folder of model.onnx / model_int8.onnx (default: the model's)")
    p.add_argument("--batch-size", type=int, default=32, help="most inputs per forward pass (default 32)")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a batch waits to fill (default 5)")
    p.add_argument("--max-length", type=int, default=None, help="tokens per input (default: the model's limit)")
    p.add_argument("--max-inputs", type=int, default=64, help="inputs per request (default 64)")
    p.add_argument("--max-chars", type=int, default=20_000, help="characters per text (default 20000)")
    p.add_argument("--max-body-bytes", type=int, default=1_000_000, help="request body size (default 1000000)")
    p.add_argument("--grace", type=float, default=10.0, help="seconds open requests get at shutdown (default 10)")


def run(args: argparse.Namespace) -> int:
    pipe = load_pipeline(args.model, None, args.backend, args.batch_size, args.max_length, args.onnx_dir)
    print(f"serving {args.model} ({pipe.task}, {pipe.backend.name}) on http://{args.host}:{args.port}/{pipe.task}",
          file=sys.stderr, flush=True)
    serve(pipe, args.host, args.port, Limits(args.max_body_bytes, args.max_inputs, args.max_chars),
          args.max_wait_ms / 1000, str(args.model), args.grace)
    return 0
