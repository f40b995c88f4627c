"""The HTTP JSON API: one model's pipeline behind FastAPI, with fair micro-batching and limits on every route.

    POST /{task}   {"inputs": [record, ...]}  ->  {"outputs": [output, ...]}     (task: the model's pipeline)
    GET  /health   {"status": "ok", "task": ..., "backend": ..., "batches": N, "records": N, ...}
    GET  /openapi.json   the routes' request and response schemas

Records and outputs are the pipeline's (a string or an object per input; see `wellread classify --help` etc.).
Errors are {"error": message}: 401 without the API key (when one is set), 408 for a body that arrives too
slowly, 413 when the body is over `max_body_bytes` or holds more than `max_inputs` inputs, 422 for a body that
is not strict JSON (NaN, Infinity, a number out of range, nesting over 1024 levels, a lone surrogate are all
refused by the parser, orjson), a bad record, an empty text or one over `max_chars` characters, 404 for another
path. A record that makes its batch fail fails only its own request (`MicroBatcher`). On SIGINT/SIGTERM uvicorn
stops accepting connections, lets open requests finish, then the batcher runs what it holds and stops.
"""

from __future__ import annotations

import resource
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from wellread.errors import WellreadError
from wellread.infer.batcher import FATAL, BatcherClosed, MicroBatcher
from wellread.infer.guard import GuardedH11Protocol, Refused, RequestGuard
from wellread.infer.load import TASK_HEADS
from wellread.infer.pipeline import Pipeline, Record
from wellread.infer.serve_options import Limits, ServeOptions, is_loopback

__all__ = ["Limits", "create_app", "serve"]


class Json(JSONResponse):
    """JSON by orjson: strict (a NaN score becomes null rather than an error) and fast."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class ErrorBody(BaseModel):
    error: str


class Outputs(BaseModel):
    outputs: list[dict[str, Any]]


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str


def error(status: int, message: str) -> Json:
    return Json({"error": message}, status_code=status)


def request_schema(pipeline: Pipeline, limits: Limits) -> dict[str, Any]:
    """The JSON schema of a request body for `pipeline`, with the limits the server checks."""
    text = {"type": "string", "maxLength": limits.max_chars, "pattern": r"\S"}
    if pipeline.task == "fill-mask":
        text["pattern"] = r"\[MASK\]"
    record = {"type": "object", "properties": {**{name: text for name in pipeline.fields},
                                               "id": {"type": ["string", "number"]}},
              "required": list(pipeline.fields[:pipeline.required])}
    return {"type": "object", "required": ["inputs"], "properties": {
        "inputs": {"type": "array", "minItems": 1, "maxItems": limits.max_inputs,
                   "items": {"anyOf": [text, record]} if pipeline.required == 1 else record}}}


def record_cost(pipeline: Pipeline) -> Callable[[Record], float]:
    """A record's estimated token count (4 characters a token), at most max_length where the pipeline truncates."""
    cap = float("inf") if pipeline.task == "answer" else pipeline.max_length  # QA reads long contexts in windows

    def cost(record: Record) -> float:
        return min(cap, 2 + sum(len(record.get(name) or "") for name in pipeline.fields) / 4)

    return cost


def create_app(pipeline: Pipeline, limits: Limits | None = None, max_wait: float = 0.005, model_name: str = "",
               api_key: str | None = None, batch_tokens: int = 2048) -> FastAPI:
    """The FastAPI app serving `pipeline`: batches of up to its batch size and about `batch_tokens` tokens,
    waiting up to `max_wait` s to fill; every route needs `api_key` (when given) except /health."""
    limits = limits or Limits()
    batcher = MicroBatcher(pipeline, pipeline.batch_size, max_wait, record_cost(pipeline), batch_tokens)
    counters = {"requests": 0, "rejected": 0}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.close()

    app = FastAPI(title="wellread", lifespan=lifespan, docs_url=None, redoc_url=None, default_response_class=Json,
                  description=__doc__)
    app.add_middleware(RequestGuard, max_body_bytes=limits.max_body_bytes, body_timeout=limits.body_timeout,
                       api_key=api_key)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    errors = {status: {"model": ErrorBody, "description": text} for status, text in (
        (401, "missing or wrong API key"), (408, "the body arrived too slowly"),
        (413, "body or inputs over the limit"), (422, "not JSON, or a bad record"), (503, "shutting down"))}

    @app.get("/health", response_model=None, responses={200: {"model": Health}, 401: errors[401]})
    async def health(request: Request) -> Json:
        if getattr(request.state, "public", False):
            return Json({"status": "ok"})
        return Json({"status": "ok", "model": model_name, **pipeline.describe(), "limits": asdict(limits),
                     "batches": batcher.batches, "records": batcher.records, "retried": batcher.retried,
                     **counters})

    async def predict(request: Request) -> Json:
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
        except BaseException as err:  # a bug, or a record the checks missed: this request only; keep serving
            if isinstance(err, FATAL):  # (a tokenizer's PanicException is a BaseException)
                raise
            return error(500, f"inference failed: {type(err).__name__}: {err}")
        return Json({"outputs": outputs})

    app.add_api_route(f"/{pipeline.task}", predict, methods=["POST"], response_model=None,
                      summary=f"{pipeline.task}: one output per input, in order",
                      responses={200: {"model": Outputs}, **errors},
                      openapi_extra={"requestBody": {"required": True, "content": {
                          "application/json": {"schema": request_schema(pipeline, limits)}}}})
    for task in TASK_HEADS:
        if task != pipeline.task:
            app.add_api_route(f"/{task}", _wrong_task(task, pipeline.task), methods=["POST"],
                              include_in_schema=False)
    return app


async def _http_error(request: Request, exc: Exception) -> Json:
    assert isinstance(exc, HTTPException)
    response = error(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


async def _internal_error(request: Request, exc: Exception) -> Json:
    return error(500, f"internal error: {type(exc).__name__}")


def _wrong_task(task: str, served: str) -> Callable[[], Awaitable[Json]]:
    async def reject() -> Json:
        return error(404, f"this server runs a {served} model: POST /{served}, not /{task}")

    return reject


async def read_request(request: Request, pipeline: Pipeline, limits: Limits) -> tuple[list, Json | None]:
    """The request's checked records, or the error response to send instead."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as err:
        return [], error(422, f"the body is not valid JSON ({err})")
    except ClientDisconnect:
        raise Refused(400, "the client went away") from None
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
        problem = check_record(record, f"inputs[{i}]", pipeline.fields, limits.max_chars)
        if problem:
            return [], error(422, problem)
        records.append(record)
    return records, None


def check_record(record: Record, where: str, fields: tuple[str, ...], max_chars: int) -> str | None:
    """What is wrong with a parsed record's texts (beyond `Pipeline.parse`'s checks) and id, or None."""
    for name in fields:
        if name in record and len(record[name]) > max_chars:
            return f"{where}.{name} has {len(record[name])} characters; the limit is {max_chars}"
    if "id" in record and (isinstance(record["id"], bool) or not isinstance(record["id"], str | int | float)):
        return f"{where}.id must be a string or a number, got {type(record['id']).__name__}"
    return None


def serve(pipeline: Pipeline, options: ServeOptions) -> None:
    """Run the server until SIGINT/SIGTERM; open requests get `options.grace` seconds to finish."""
    import uvicorn

    key = options.key()
    if key is None and not is_loopback(options.host):
        print(f"warning: serving on {options.host} without an API key: anyone who can reach this address can use "
              "the model; set --api-key or $WELLREAD_API_KEY (see docs/security.md)", file=sys.stderr, flush=True)
    ensure_file_descriptors(options.max_connections + 64)
    app = create_app(pipeline, options.limits(), options.max_wait_ms / 1000, str(options.model), key,
                     options.batch_tokens)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the handler it found: a no-op
    # here, so a requested shutdown ends the process with status 0 rather than "killed by SIGTERM"
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.run(app, host=options.host, port=options.port, log_level="warning",
                    timeout_graceful_shutdown=options.grace, timeout_keep_alive=options.idle_timeout,  # type: ignore
                    http=GuardedH11Protocol.configured(options.max_connections, options.header_timeout))
    finally:
        signal.signal(signal.SIGTERM, previous)


def ensure_file_descriptors(needed: int) -> None:
    """Raise the process's open-file limit to `needed` (within the hard limit), or say why it cannot serve."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise WellreadError(f"--max-connections needs about {needed} open files; this process may open "
                                f"{hard} (ulimit -n): lower --max-connections")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
