"""An HTTP fuzz of `wellread serve` from its own OpenAPI schema (schemathesis), against a real server on 127.0.0.1:
a bounded number of generated requests per route, valid and invalid, with the API key. No reply is a 500, every
status and body is one the schema documents, the server is alive after it, and a well-formed client sending
throughout never failed.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from infer_models import make_models
from serve_helpers import Server, running_server

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402  (schemathesis brings hypothesis)
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

KEY = "fuzz-key"
EXAMPLES = 150
"""Generated requests per route and mode (valid, invalid): about 25 s in all on 2 cores."""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["classify", "embed"])
def fuzzed(request, tmp_path_factory, tok) -> tuple[Server, list[str], threading.Event]:
    """(a classify or embed server with small limits, the steady client's failures, its stop signal)."""
    task = request.param
    models = make_models(tmp_path_factory.mktemp("fuzz"), tok)
    with running_server(models[task], "--max-inputs", "8", "--max-chars", "500", "--max-body-bytes", "20000",
                        "--batch-size", "8", key=KEY) as server:
        failures: list[str] = []
        stop = threading.Event()

        def steady() -> None:  # a well-formed client beside the fuzzer (bounded: it stops with the module)
            with httpx.Client(headers=server.auth, timeout=30) as client:
                for i in range(100_000):
                    if stop.is_set():
                        break
                    reply = client.post(f"{server.url}/{task}", json={"inputs": [f"a gripping film {i}", "dull"]})
                    if reply.status_code != 200 or len(reply.json()["outputs"]) != 2:
                        failures.append(f"{reply.status_code}: {reply.text[:200]}")

        thread = threading.Thread(target=steady, daemon=True)
        thread.start()
        yield server, failures, stop, task
        stop.set()
        thread.join(30)
    assert "Traceback" not in server.log(), server.log()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzzing_the_openapi_schema_finds_no_server_error(fuzzed, mode: GenerationMode) -> None:
    server, _, _, task = fuzzed
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=server.auth)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/health", f"/{task}"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # GET /health takes nothing that could be made invalid
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            case.call_and_validate(base_url=server.url, headers=server.auth, checks=checks, timeout=30)

        fuzz()


def test_the_server_is_alive_and_the_steady_client_never_failed(fuzzed) -> None:
    server, failures, stop, _ = fuzzed
    stop.set()
    health = httpx.get(f"{server.url}/health", headers=server.auth, timeout=5).json()
    assert health["status"] == "ok" and health["requests"] > 0
    assert failures == []
