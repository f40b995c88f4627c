"""Serve a fine-tuned model (a masked-LM, or a sentence-embedding model) over HTTP: a JSON API with fair
micro-batching and limits.

The model's pipeline answers POST /classify, /tag, /answer, /fill-mask or /embed, whichever the model's head
does: a server runs one model and one pipeline, and a bare encoder (config.json's architecture `BertModel`, as in
all-MiniLM-L6-v2 or any sentence-transformers folder) is an embedding model, pooled as its modules.json says;
another route answers 404 naming the one served. Body {"inputs": [record, ...]}, reply {"outputs": [output, ...]}
in the same order; records and outputs are those of the matching command (`wellread classify --help`, ...).
GET /health reports the model, backend, limits and counters; GET /openapi.json the request and response schemas.
Records of concurrent requests run together in batches of up to --batch-size inputs and about --batch-tokens
tokens (waiting at most --max-wait-ms for a batch to fill), taken first from the requests served least so far: a
short request is not stuck behind large ones, and a record that fails its batch fails only its own request.

Limits (every route): a body over --max-body-bytes or more than --max-inputs inputs is refused with 413; a body
that is not strict JSON, a bad record, an empty text or one over --max-chars characters with 422; a request
whose headers take over --header-timeout s or whose body takes over --body-timeout s with 408; connections over
--max-connections with 503; idle keep-alive connections are closed after --idle-timeout s. Errors are
{"error": message}. With --api-key (or $WELLREAD_API_KEY) every route but /health needs the header
`Authorization: Bearer KEY`; serving on an address other than loopback without one prints a warning. To expose
the server, put it behind a reverse proxy with TLS (docs/security.md). Ctrl-C / SIGTERM: open requests finish
(up to --grace seconds), then the server exits.

Examples:
  wellread serve sst2-mini --port 8000
  curl -s localhost:8000/classify -d '{"inputs": ["a gripping film", {"text": "dull", "id": 2}]}'
  curl -s localhost:8000/health
  wellread serve all-MiniLM-L6-v2 --port 8001    # a bare encoder: POST /embed {"inputs": ["a sentence"]}
  export WELLREAD_API_KEY=$(cat key.txt)        # a secret, not on the command line (other users see that)
  wellread serve qa-mini --backend onnx-int8 --host 10.0.0.5 --max-inputs 16
  curl -s 10.0.0.5:8000/answer -H "Authorization: Bearer $(cat key.txt)" \\
      -d '{"inputs": [{"question": "Who?", "context": "John lives in Paris."}]}'
"""

from __future__ import annotations

import sys

from wellread.infer.load import load_pipeline
from wellread.infer.serve import serve
from wellread.infer.serve_options import ServeOptions

OPTIONS = ServeOptions


def run(options: ServeOptions) -> int:
    pipe = load_pipeline(options.model, None, options.backend, options.batch_size, options.max_length,
                         options.onnx_dir)
    print(f"serving {options.model} ({pipe.task}, {pipe.backend.name}) on "
          f"http://{options.host}:{options.port}/{pipe.task}", file=sys.stderr, flush=True)
    serve(pipe, options)
    return 0
