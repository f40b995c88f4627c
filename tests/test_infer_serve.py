"""The HTTP server: correct answers under concurrent requests (micro-batched), 413/422/404 for oversized,
malformed and misdirected requests without dying, and a batcher that finishes its work on shutdown.

The server runs in a thread on a free loopback port; clients are threads with httpx.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from helpers import free_port
from infer_models import make_models

from wellread.infer import load_pipeline
from wellread.infer.batcher import MicroBatcher
from wellread.infer.serve import Limits, create_app

WORDS = ["a gripping film", "dull", "funny and sad", "two hours i will not get back", "ok", "superb acting"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, tok) -> dict[str, Path]:
    return make_models(tmp_path_factory.mktemp("serve"), tok)


@pytest.fixture(scope="module")
def server(models):
    """(base url, pipeline) of a classify server with small limits, running in a thread."""
    pipe = load_pipeline(models["classify"], backend="torch", batch_size=8)
    app = create_app(pipe, Limits(max_body_bytes=4000, max_inputs=10, max_chars=300), max_wait=0.01)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", pipe
    server.should_exit = True
    thread.join(10)


@pytest.mark.slow
def test_concurrent_requests_get_their_own_correct_answers(server) -> None:
    url, pipe = server
    requests = [[WORDS[(i + k) % len(WORDS)] + f" {i}" for k in range(1 + i % 3)] for i in range(24)]

    def call(texts: list[str]) -> list[dict]:
        reply = httpx.post(f"{url}/classify", json={"inputs": texts}, timeout=30)
        assert reply.status_code == 200, reply.text
        return reply.json()["outputs"]

    before = httpx.get(f"{url}/health").json()
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(call, requests))
    after = httpx.get(f"{url}/health").json()
    for texts, outputs in zip(requests, replies, strict=True):
        expected = pipe(texts)
        assert [o["label"] for o in outputs] == [e["label"] for e in expected]
        assert [o["score"] for o in outputs] == pytest.approx([e["score"] for e in expected], abs=1e-5)
    records = sum(len(r) for r in requests)
    assert after["records"] - before["records"] == records
    assert after["batches"] - before["batches"] < len(requests)  # requests were batched together


@pytest.mark.slow
@pytest.mark.parametrize(("body", "status", "message"), [
    ({"inputs": ["x"] * 11}, 413, "11 inputs in one request; the limit is 10"),
    ({"inputs": ["word " * 100]}, 422, "inputs[0].text has 500 characters; the limit is 300"),
    ({"inputs": [{"txt": "no text field"}]}, 422, "inputs[0]: missing field 'text'"),
    ({"inputs": [5]}, 422, "inputs[0]: expected a string or an object"),
    ({"texts": ["wrong key"]}, 422, 'expected a JSON object {"inputs": [...]}'),
    ({"inputs": []}, 422, '"inputs" is empty'),
])
def test_bad_requests_are_refused_with_a_clear_message(server, body, status: int, message: str) -> None:
    url, _ = server
    reply = httpx.post(f"{url}/classify", json=body)
    assert reply.status_code == status and message in reply.json()["error"]


@pytest.mark.slow
def test_oversized_malformed_and_misdirected_requests_then_still_alive(server) -> None:
    url, _ = server
    big = httpx.post(f"{url}/classify", content=b'{"inputs": ["' + b"a" * 5000 + b'"]}',
                     headers={"content-type": "application/json"})
    assert big.status_code == 413 and "over the limit of 4000 bytes" in big.json()["error"]

    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    streamed = httpx.post(f"{url}/classify", content=chunks())  # no Content-Length: counted while it streams
    assert streamed.status_code == 413
    broken = httpx.post(f"{url}/classify", content=b'{"inputs": [', headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["error"]
    wrong = httpx.post(f"{url}/answer", json={"inputs": [{"question": "q", "context": "c"}]})
    assert wrong.status_code == 404 and "POST /classify" in wrong.json()["error"]
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["task"] == "classify" and health["rejected"] >= 1
    assert httpx.post(f"{url}/classify", json={"inputs": ["still here"]}).status_code == 200


@pytest.mark.slow
def test_serve_command_answers_then_exits_cleanly_on_sigterm(models) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "wellread.cli", "serve", str(models["tag"]), "--port", str(port),
                               "--backend", "torch"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            assert server.poll() is None and time.time() < deadline, "server did not start"
            try:
                health = httpx.get(f"{url}/health", timeout=1).json()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health["task"] == "tag" and health["backend"] == "torch"
        reply = httpx.post(f"{url}/tag", json={"inputs": ["John lives in Paris."]}).json()
        assert [w["word"] for w in reply["outputs"][0]["words"]] == ["John", "lives", "in", "Paris", "."]
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    assert "serving" in server.stderr.read()


def test_batcher_splits_large_jobs_and_finishes_on_close() -> None:
    seen: list[int] = []

    def run(batch: list[int]) -> list[int]:
        seen.append(len(batch))
        return [x * 10 for x in batch]

    async def scenario() -> list[list[int]]:
        batcher = MicroBatcher(run, max_batch=4, max_wait=0.01)
        batcher.start()
        jobs = [asyncio.create_task(batcher.submit(list(range(n)))) for n in (3, 9, 1)]
        await asyncio.sleep(0)
        await batcher.close()  # graceful: everything submitted is answered
        return [job.result() for job in jobs]

    results = asyncio.run(scenario())
    assert results == [[0, 10, 20], [x * 10 for x in range(9)], [0]]
    assert max(seen) <= 4 and sum(seen) == 13


class Panic(BaseException):
    """Like pyo3's PanicException (a tokenizer panic): not an Exception."""


def submit_together(run, jobs: list[list[str]], **options) -> tuple[list, MicroBatcher]:
    """Each job's result (or exception) when `jobs` are submitted together to a MicroBatcher running `run`."""
    batcher = MicroBatcher(run, **options)

    async def scenario() -> list:
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(job) for job in jobs), return_exceptions=True)
        await batcher.close()
        return results

    return asyncio.run(scenario()), batcher


def test_a_failing_batch_fails_only_its_requests() -> None:
    def run(batch: list[str]) -> list[str]:
        if "bad" in batch:
            raise ValueError("boom")
        if "panic" in batch:
            raise Panic("rust panicked")
        return [s.upper() for s in batch]

    (bad, panic, good), _ = submit_together(run, [["bad"], ["panic"], ["good"]], max_batch=1, max_wait=0.0)
    assert isinstance(bad, ValueError) and isinstance(panic, Panic) and good == ["GOOD"]


def run_batches(jobs: list[list[str]], late: list[str] | None = None, **options) -> tuple[list[list[str]], list]:
    """Every batch `MicroBatcher` runs for `jobs` (submitted together), and `late` submitted once the first batch
    runs; (batches, each job's result)."""
    batches: list[list[str]] = []
    started = threading.Event()

    def run(batch: list[str]) -> list[str]:
        batches.append(list(batch))
        if not started.is_set():  # the first batch runs long enough for `late` to arrive meanwhile
            started.set()
            time.sleep(0.05)
        return [s.upper() for s in batch]

    async def scenario() -> list:
        batcher = MicroBatcher(run, max_wait=0.0, **options)
        batcher.start()
        tasks = [asyncio.create_task(batcher.submit(job)) for job in jobs]
        if late:
            while not started.is_set():
                await asyncio.sleep(0.001)
            tasks.append(asyncio.create_task(batcher.submit(late)))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await batcher.close()
        return results

    return batches, asyncio.run(scenario())


def test_a_short_request_runs_in_the_next_batch_not_behind_long_ones() -> None:
    """Before (first come, first served): the sentence ran after all 8 x 64 long texts."""
    long_jobs = [[f"long{j}-{i}-" + "x" * 400 for i in range(64)] for j in range(8)]
    batches, results = run_batches(long_jobs, ["short"], max_batch=32, cost=len, max_cost=2000)
    assert results[-1] == ["SHORT"]
    assert all(r == [s.upper() for s in job] for r, job in zip(results[:-1], long_jobs, strict=True))
    position = batches.index(["short"])  # alone: the long texts cost over 4 times as much
    before = [text.split("-")[:2] for batch in batches[:position] for text in batch]
    assert all(i == "0" for _, i in before)  # after at most one text of each long request (fair queueing)
    assert position <= 2 and all(len(b) <= 4 for b in batches)  # 4 texts of ~408, padded, fit 2000
    rounds = [b[0].split("-")[0] for b in batches if b != ["short"]][:3]
    assert rounds == ["long0", "long4", "long0"]  # round-robin between the requests, not one at a time


def test_a_stream_of_cheap_requests_does_not_starve_a_costly_one() -> None:
    def run(batch: list[str]) -> list[str]:
        time.sleep(0.002)
        return batch

    async def scenario() -> int:
        batcher = MicroBatcher(run, max_batch=2, max_wait=0.0, cost=len)
        batcher.start()
        costly = asyncio.create_task(batcher.submit(["L" * 40]))
        sent = 0

        async def cheap_client(name: str) -> None:  # four of them: cheap requests always wait beside the costly one
            nonlocal sent
            while not costly.done() and sent < 200:
                sent += 1
                await batcher.submit([name])

        await asyncio.gather(*(cheap_client(name) for name in "abcd"))
        await batcher.close()
        return sent

    sent = asyncio.run(scenario())
    assert 40 < sent < 120  # once the cheap ones' virtual tags pass its own (40, at 1 a batch of 2), not never (200)


def test_a_failing_batch_is_retried_per_request_and_fails_only_the_bad_one() -> None:
    """Before: one bad record failed every request that shared its batch."""
    def run(batch: list[str]) -> list[str]:
        if "bad" in batch:
            raise ValueError("boom")
        return [s.upper() for s in batch]

    (first, bad, last), batcher = submit_together(run, [["a", "b"], ["c", "bad"], ["d"]], max_batch=16,
                                                  max_wait=0.05)
    retried = batcher.retried
    assert first == ["A", "B"] and last == ["D"] and isinstance(bad, ValueError) and retried == 1
