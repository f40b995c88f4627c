"""The server under hostile clients (issue #20, items 6-8), against a real `wellread serve` on 127.0.0.1 with small
limits and an API key: bad JSON and texts answered 422 per request without failing anyone else's; slow headers,
slow bodies and idle connections closed; connections over the limit refused without holding file descriptors; a
short request answered quickly beside large ones; every route but /health behind the bearer token. Every client
loop is bounded (a fixed number of requests, sockets with timeouts).
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import torch
from helpers import tiny_config
from infer_models import make_models
from serve_helpers import Server, running_server

from wellread.models import build_model
from wellread.models.checkpoint import save_model

KEY = "test-key-1234"
LIMITS = ("--max-inputs", "64", "--max-chars", "2000", "--max-body-bytes", "200000", "--batch-size", "16",
          "--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "2", "--max-connections", "24")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory, tok) -> dict[str, Path]:
    return make_models(tmp_path_factory.mktemp("hostile"), tok)


@pytest.fixture(scope="module")
def server(models) -> Server:
    with running_server(models["classify"], *LIMITS, key=KEY) as server:
        yield server
    assert "Traceback" not in server.log(), server.log()


def post(server: Server, body: bytes | dict, path: str = "/classify", timeout: float = 30) -> httpx.Response:
    content = body if isinstance(body, bytes) else None
    return httpx.post(f"{server.url}{path}", content=content, json=None if content else body,
                      headers={"content-type": "application/json", **server.auth}, timeout=timeout)


def test_a_lone_surrogate_fails_only_its_own_request(server: Server) -> None:
    """Before: the surrogate reached the tokenizer inside a shared micro-batch and 7-9 of 10 other clients got 500."""
    def good(i: int) -> int:
        return post(server, {"inputs": [f"a gripping film {i}", "dull"]}).status_code

    def bad(_: int) -> httpx.Response:
        return post(server, b'{"inputs": ["fine", "\\ud800 broken"]}')

    with ThreadPoolExecutor(12) as pool:
        for _ in range(3):  # three trials, as in the report
            goods = [pool.submit(good, i) for i in range(10)]
            bads = [pool.submit(bad, i) for i in range(2)]
            assert [g.result() for g in goods] == [200] * 10
            for reply in (b.result() for b in bads):
                assert reply.status_code == 422 and "not valid JSON" in reply.json()["error"]


@pytest.mark.parametrize(("body", "message"), [
    (b'{"inputs": [NaN]}', "not valid JSON"),
    (b'{"inputs": ["x"], "id": Infinity}', "not valid JSON"),
    (b'{"inputs": ' + b"[" * 90_000 + b"]" * 90_000 + b"}", "not valid JSON"),
    (b'{"inputs": [{"text": "ok", "id": 1' + b"0" * 5000 + b'}]}', "not valid JSON"),
    (b'{"inputs": [{"text": "ok", "id": "\\udfff"}]}', "not valid JSON"),
    (b'{"inputs": [""]}', "inputs[0]: field 'text' is empty"),
    (b'{"inputs": ["fine", {"text": " \\n\\t "}]}', "inputs[1]: field 'text' is only whitespace"),
    (b'{"inputs": [{"text": "ok", "id": {"deep": [1]}}]}', "inputs[0].id must be a string or a number"),
    (b'\xff\xfe{"inputs": ["x"]}', "not valid JSON"),
])
def test_hostile_bodies_get_a_json_422_never_a_500(server: Server, body: bytes, message: str) -> None:
    reply = post(server, body)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/json" and message in reply.json()["error"]
    assert post(server, {"inputs": ["still here"]}).status_code == 200


def raw(server: Server, timeout: float = 5.0) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    return sock


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """(everything the server sent, seconds until it closed the connection); fails after `limit` seconds."""
    start, data = time.monotonic(), b""
    sock.settimeout(limit)
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - start


def test_partial_headers_and_a_silent_connection_are_closed_after_the_header_timeout(server: Server) -> None:
    """Before: both stayed open for minutes."""
    silent = raw(server)
    partial = raw(server)
    partial.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\n")
    for sock in (silent, partial):
        data, seconds = read_until_closed(sock, 10)
        assert seconds < 4 and b"408" in data.split(b"\r\n")[0]
        sock.close()


def test_trickled_headers_do_not_keep_a_connection_alive(server: Server) -> None:
    sock = raw(server)
    start = time.monotonic()
    closed = False
    for byte in b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40:  # 0.1 s a byte: 6 s in all
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        time.sleep(0.1)
        if time.monotonic() - start > 3:
            break
    data, _ = read_until_closed(sock, 5) if not closed else (b"", 0)
    assert closed or b"408" in data
    assert time.monotonic() - start < 6
    sock.close()


def test_a_slow_body_gets_408_and_the_connection_closed(server: Server) -> None:
    sock = raw(server)
    sock.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                 + f"Authorization: Bearer {KEY}\r\n\r\n".encode() + b'{"inputs": [')
    data, seconds = read_until_closed(sock, 10)
    assert seconds < 4 and data.startswith(b"HTTP/1.1 408") and b"did not arrive within 1 s" in data
    sock.close()


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(server: Server) -> None:
    sock = raw(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):  # the whole reply: status line, headers, the JSON body
        first += sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 200")
    data, seconds = read_until_closed(sock, 10)
    assert data == b"" and 1.5 < seconds < 5  # --idle-timeout 2
    sock.close()


def test_connections_over_the_limit_are_refused_and_hold_no_file_descriptors(server: Server) -> None:
    """Before: 20,000 idle connections exhausted the server's file descriptors and /health timed out."""
    baseline = server.open_files()
    socks = [raw(server) for _ in range(80)]  # the limit is 24
    time.sleep(0.3)
    assert server.open_files() < baseline + 24 + 10
    refused = 0
    for sock in socks[40:]:
        data, _ = read_until_closed(sock, 5)
        refused += data.startswith(b"HTTP/1.1 503")
    assert refused == 40
    for sock in socks:
        sock.close()
    time.sleep(1.5)  # the header timeout closes the idle ones the server took
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def mini_server(tmp_path_factory, tok) -> Server:
    """A server of a bert-mini-sized classifier (4 layers, 256 wide, 512 positions) at the default text limits."""
    config = tiny_config(tok.vocab_size, layers=4, hidden=256, heads=4, intermediate=1024, max_positions=512)
    torch.manual_seed(0)
    model = build_model(config.with_labels(["negative", "positive"]), "sequence-classification").eval()
    folder = save_model(model, tmp_path_factory.mktemp("mini") / "mini", tok)
    with running_server(folder, "--max-body-bytes", "1500000", threads=2) as server:
        yield server


def test_a_short_request_is_answered_within_a_second_while_eight_maximum_requests_run(mini_server: Server) -> None:
    """8 requests of 64 x 20,000 characters (the default limits) in flight, then one sentence. Before (first come,
    first served, batches of 32 x 512 tokens): the sentence waited behind all 512 long texts (over 30 s here).

    The bound is 1 s, or 2.5 times one full batch (4 texts of 512 tokens) on this machine alone when other jobs
    share its cores and make that slower than 0.4 s: the sentence waits for the batch in flight, then runs."""
    server = mini_server
    long_text = ("the plot wanders and the actors look tired " * 500)[:20_000]
    post(server, {"inputs": [long_text] * 4})  # warm-up
    start = time.monotonic()
    assert post(server, {"inputs": [long_text] * 4}).status_code == 200
    bound = max(1.0, 2.5 * (time.monotonic() - start))
    before = httpx.get(f"{server.url}/health").json()["requests"]
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(post(server, {"inputs": [long_text] * 64},
                                                                    timeout=300).status_code))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    while httpx.get(f"{server.url}/health").json()["requests"] < before + 8:
        time.sleep(0.005)
    time.sleep(0.2)  # the bodies are read and the first batch runs
    start = time.monotonic()
    reply = post(server, {"inputs": ["a gripping film"]})
    seconds = time.monotonic() - start
    print(f"one sentence answered in {seconds:.3f} s beside 8 x 64 x 20,000 characters (bound {bound:.2f} s)")
    busy = sum(thread.is_alive() for thread in threads)
    for thread in threads:
        thread.join()
    assert reply.status_code == 200 and statuses == [200] * 8
    assert busy == 8, "the large requests finished before the short one was answered: the test proves nothing"
    assert seconds < bound


def test_every_route_but_health_needs_the_api_key(server: Server) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        reply = httpx.post(f"{server.url}/classify", json={"inputs": ["x"]}, headers=headers)
        assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
        assert "API key" in reply.json()["error"]
        assert httpx.get(f"{server.url}/openapi.json", headers=headers).status_code == 401
        assert httpx.post(f"{server.url}/tag", json={"inputs": ["x"]}, headers=headers).status_code == 401
        assert httpx.get(f"{server.url}/nowhere", headers=headers).status_code == 401
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}  # a liveness probe, nothing more
    assert httpx.get(f"{server.url}/health", headers=server.auth).json()["task"] == "classify"
    assert post(server, {"inputs": ["x"]}).status_code == 200
    assert httpx.get(f"{server.url}/openapi.json", headers=server.auth).status_code == 200


def test_serving_beyond_loopback_without_a_key_warns(models, tmp_path) -> None:
    with running_server(models["classify"], host="0.0.0.0", log=tmp_path / "open.log") as server:
        assert "warning: serving on 0.0.0.0 without an API key" in server.log()
    with running_server(models["classify"], host="0.0.0.0", key="k", log=tmp_path / "keyed.log") as server:
        assert "warning" not in server.log()
    with running_server(models["classify"], log=tmp_path / "local.log") as server:
        assert "warning" not in server.log()
