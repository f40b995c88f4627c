"""The HTTP JSON API: one model's pipeline behind FastAPI, with micro-batching and request limits.

    POST /{task}   {"inputs": [record, ...]}  ->  {"outputs": [output, ...]}     (task: the model's pipeline)
    GET  /health   {"status": "ok", "task": ..., "backend": ..., "batches": N, "records": N, ...}

Records and outputs are the pipeline's (a string or an object per input; see `wellread classify --help` etc.).
Errors are {"error": message}: 413 when the body is over `max_body_bytes` or holds more than `max_inputs`
inputs, 422 for malformed JSON, a bad record or a text over `max_chars` characters, 404 for another task's
path. Records of concurrent requests are run together (`MicroBatcher`). On SIGINT/SIGTERM uvicorn stops
accepting connections, lets open requests finish, then the batcher runs what it holds and stops.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from wellread.errors import WellreadError
from wellread.infer.batcher import BatcherClosed, MicroBatcher
from wellread.infer.load import TASK_HEADS
from wellread.infer.pipeline import Pipeline

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


@dataclass
class Limits:
    """What one request may ask for."""

    max_body_bytes: int = 1_000_000
    max_inputs: int = 64
    max_chars: int = 20_000


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for a body over `limit` bytes, by Content-Length or while it streams in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await self._reject(send)

    async def _reject(self, send: Callable[[Message], Awaitable[None]]) -> None:
        body = json.dumps({"error": f"request body over the limit of {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(pipeline: Pipeline, limits: Limits | None = None, max_wait: float = 0.005,
               model_name: str = "") -> FastAPI:
    """The FastAPI app serving `pipeline` (batches of up to its batch size, waiting up to `max_wait` s)."""
    limits = limits or Limits()
    batcher = MicroBatcher(pipeline, pipeline.batch_size, max_wait)
    counters = {"requests": 0, "rejected": 0}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.close()

    app = FastAPI(title="wellread", lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, **pipeline.describe(), "limits": asdict(limits),
                "batches": batcher.batches, "records": batcher.records, **counters}

    @app.post(f"/{pipeline.task}")
    async def predict(request: Request) -> JSONResponse:
        counters["requests"] += 1
        records, problem = await read_request(request, pipeline, limits)
        if problem is not None:
            counters["rejected"] += 1
            return problem
        try:
            outputs = await batcher.submit(records)
        except WellreadError as err:
            return error(422, str(err))
        except BatcherClosed as err:
            return error(503, str(err))
        except BaseException as err:  # a bug, not the request's fault: say so, keep serving
            if isinstance(err, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
                raise
            return error(500, f"inference failed: {type(err).__name__}: {err}")
        return JSONResponse({"outputs": outputs})

    for task in TASK_HEADS:
        if task != pipeline.task:
            app.add_api_route(f"/{task}", _wrong_task(task, pipeline.task), methods=["POST"])
    return app


def _wrong_task(task: str, served: str) -> Callable[[], Awaitable[JSONResponse]]:
    async def reject() -> JSONResponse:
        return error(404, f"this server runs a {served} model: POST /{served}, not /{task}")

    return reject


async def read_request(request: Request, pipeline: Pipeline, limits: Limits) -> tuple[list, JSONResponse | None]:
    """The request's checked records, or the error response to send instead."""
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return [], error(422, f"the body is not valid JSON ({err})")
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        return [], error(422, 'expected a JSON object {"inputs": [...]}, a list of strings or objects')
    inputs = body["inputs"]
    if not inputs:
        return [], error(422, '"inputs" is empty')
    if len(inputs) > limits.max_inputs:
        return [], error(413, f"{len(inputs)} inputs in one request; the limit is {limits.max_inputs}")
    records = []
    for i, item in enumerate(inputs):
        try:
            record = pipeline.parse(item, f"inputs[{i}]")
        except WellreadError as err:
            return [], error(422, str(err))
        for name in pipeline.fields:
            if len(record.get(name, "")) > limits.max_chars:
                return [], error(422, f"inputs[{i}].{name} has {len(record[name])} characters; "
                                      f"the limit is {limits.max_chars}")
        records.append(record)
    return records, None


def serve(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None,
          max_wait: float = 0.005, model_name: str = "", grace: float = 10.0) -> None:
    """Run the server until SIGINT/SIGTERM; open requests get `grace` seconds to finish."""
    import uvicorn

    app = create_app(pipeline, limits, max_wait, model_name)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the handler it found: a no-op
    # here, so a requested shutdown ends the process with status 0 rather than "killed by SIGTERM"
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=grace)
    finally:
        signal.signal(signal.SIGTERM, previous)
