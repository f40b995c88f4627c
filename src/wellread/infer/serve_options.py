"""`wellread serve`'s options, declared once (`wellread.options`): the model, the address, batching, and the limits
every request and connection is under (`Limits`, what the app enforces; the rest is the socket layer's).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from wellread.infer.backends import BACKENDS
from wellread.options import option, positive

API_KEY_ENV = "WELLREAD_API_KEY"
LIMITS = "limits (every route; see docs/security.md)"
LOOPBACK_NAMES = ("localhost",)


@dataclass
class Limits:
    """What one request may ask for, and how long its body may take to arrive."""

    max_body_bytes: int = 1_000_000
    max_inputs: int = 64
    max_chars: int = 20_000
    body_timeout: float = 10.0


@dataclass
class ServeOptions:
    """Options of `wellread serve` (and of `wellread.infer.serve.serve`)."""

    model: str = option(positional=True, recipe=False,
                        help="a fine-tuned model folder (classifier, tagger, QA) or a masked-LM")
    host: str = option("127.0.0.1", help="address to listen on; another than loopback needs --api-key (or a "
                                         "warning is printed)")
    port: int = option(8000, help="port")
    backend: str = option("auto", choices=BACKENDS, help="as in `wellread classify`")
    onnx_dir: str | None = option(None, help="folder of model.onnx / model_int8.onnx (default: the model's)")
    batch_size: int = option(32, help="most inputs per forward pass")
    batch_tokens: int = option(2048, help="most (estimated) tokens per forward pass, so that one large request "
                                          "cannot hold the model for long")
    max_wait_ms: float = option(5.0, help="how long a batch waits to fill, in ms")
    max_length: int | None = option(None, help="tokens per input (default: the model's limit)")
    grace: float = option(10.0, help="seconds open requests get at shutdown")
    api_key: str | None = option(None, help=f"require `Authorization: Bearer KEY` on every route but /health "
                                            f"(default: ${API_KEY_ENV}; none: no authentication)")
    max_inputs: int = option(64, group=LIMITS, help="inputs per request")
    max_chars: int = option(20_000, group=LIMITS, help="characters per text")
    max_body_bytes: int = option(1_000_000, group=LIMITS, help="request body size in bytes")
    max_connections: int = option(256, group=LIMITS, help="open connections; more are closed at once with a 503")
    header_timeout: float = option(5.0, group=LIMITS, help="seconds a request's line and headers may take")
    body_timeout: float = option(10.0, group=LIMITS, help="seconds a request's body may take")
    idle_timeout: float = option(30.0, group=LIMITS, help="seconds a keep-alive connection may stay idle")

    def check(self) -> list[tuple[str, str]]:
        problems = positive(self, "port", "batch_size", "batch_tokens", "max_inputs", "max_chars", "max_body_bytes",
                            "max_connections", "header_timeout", "body_timeout", "idle_timeout", "grace")
        if self.max_wait_ms < 0:
            problems.append(("max_wait_ms", f"must be >= 0, got {self.max_wait_ms}"))
        if self.api_key is not None and not self.api_key.strip():
            problems.append(("api_key", "is empty"))
        return problems

    def limits(self) -> Limits:
        return Limits(self.max_body_bytes, self.max_inputs, self.max_chars, self.body_timeout)

    def key(self) -> str | None:
        """The API key: --api-key, else $WELLREAD_API_KEY, else None (no authentication)."""
        return self.api_key or os.environ.get(API_KEY_ENV) or None


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
