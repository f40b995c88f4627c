"""Load test of `wellread serve`: concurrent clients on loopback for a bounded time; failures and latency.

Starts `wellread serve MODEL` as a second process on a free loopback port, waits for /health, then runs
--clients client threads (one keep-alive connection each) that send SST-2 dev sentences (--per-request of them
per request) for --seconds. Every reply must be 200 with one output per input and a label of the model's; any
other reply or a connection error counts as a failed request. Then 8 requests of 64 sentences are sent and the
server gets SIGTERM once they have arrived: it must answer all 8 and exit with status 0 (graceful shutdown).
Prints requests, failures, requests/s, sentences/s, latency percentiles and the server's mean batch size
(requests are micro-batched); exits 1 when any request failed or the shutdown was not clean.

--hostile adds, beside the normal clients and for the same time, the clients of `hostile.py`: slow clients
(headers or a body trickled a byte at a time, silent connections), a client of maximum-size requests (64 texts
of --max-chars characters), and clients of oversized (413) and invalid (422: NaN, a lone surrogate, 100k-deep
nesting, a 5,000-digit number, empty texts) requests. The normal clients' figures are printed as before; a
hostile request answered 5xx, or a slow connection the server did not close within its timeout, counts as a
server failure.

  python benchmarks/serve_load.py --model /work/runs/mini-sst2 --clients 16 --seconds 30
  python benchmarks/serve_load.py --model sst2-mini --backend onnx-int8 --per-request 4 --threads 2
  python benchmarks/serve_load.py --model sst2-mini --clients 8 --seconds 30 --threads 2 --hostile
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from wellread.config import load_config


def default_data() -> Path:
    root = Path(os.environ.get("WELLREAD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return root / "glue" / "SST-2" / "dev.tsv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 120.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with status {server.returncode} before answering /health")
        try:
            return httpx.get(f"{url}/health", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit(f"no answer from {url}/health within {timeout:.0f} s")


def client(url: str, sentences: list[str], labels: set[str], per_request: int, deadline: float, seed: int,
           latencies: list[float], failures: list[str]) -> None:
    rng = random.Random(seed)
    with httpx.Client(timeout=30) as http:
        while time.time() < deadline:
            batch = rng.sample(sentences, per_request)
            start = time.perf_counter()
            try:
                reply = http.post(f"{url}/classify", json={"inputs": batch})
                outputs = reply.json().get("outputs") if reply.status_code == 200 else None
            except (httpx.HTTPError, ValueError) as err:
                failures.append(f"{type(err).__name__}: {err}")
                continue
            latencies.append(time.perf_counter() - start)
            if outputs is None or len(outputs) != per_request or any(o.get("label") not in labels for o in outputs):
                failures.append(f"status {reply.status_code}: {reply.text[:200]}")


def shutdown_in_flight(url: str, server: subprocess.Popen, sentences: list[str], requests: int = 8,
                       per_request: int = 64) -> tuple[int, int | None]:
    """SIGTERM while `requests` large requests are open; returns (how many got a 200, the exit status)."""
    statuses: list[int] = []
    before = httpx.get(f"{url}/health", timeout=5).json()["requests"]

    def send(seed: int) -> None:
        batch = random.Random(seed).sample(sentences, per_request)
        try:
            statuses.append(httpx.post(f"{url}/classify", json={"inputs": batch}, timeout=60).status_code)
        except httpx.HTTPError:
            statuses.append(0)

    threads = [threading.Thread(target=send, args=(seed,)) for seed in range(requests)]
    for thread in threads:
        thread.start()
    while httpx.get(f"{url}/health", timeout=5).json()["requests"] < before + requests:
        time.sleep(0.002)
    server.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join()
    try:
        return statuses.count(200), server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        return statuses.count(200), None


class Hostile:
    """Hostile clients until `deadline`: slow, maximum-size, oversized and invalid (see the module's docstring)."""

    INVALID = [b'{"inputs": [NaN]}', b'{"inputs": ["\\ud800 broken"]}', b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000
               + b"}", b'{"inputs": [{"text": "x", "id": 1' + b"0" * 5000 + b'}]}', b'{"inputs": ["", " "]}']

    def __init__(self, url: str, deadline: float, max_chars: int) -> None:
        self.url, self.deadline = url, deadline
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.big = {"inputs": [("the plot wanders and the actors look tired " * 1000)[:max_chars]] * 64}
        self.oversized = b'{"inputs": ["' + b"a" * (100 * max_chars) + b'"]}'
        self.counts: dict[str, int] = {}
        self.server_failures: list[str] = []
        self.held: dict[str, float] = {}
        self._threads = [threading.Thread(target=self.slow, args=(kind,)) for kind in ("headers", "body", "silent")]
        self._threads += [threading.Thread(target=self.requests, args=(kind,)) for kind in ("big", "oversized",
                                                                                             "invalid")]

    def threads(self) -> list[threading.Thread]:
        return self._threads

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def requests(self, kind: str) -> None:
        with httpx.Client(timeout=120) as http:
            i = 0
            while time.time() < self.deadline:
                i += 1
                try:
                    if kind == "big":
                        reply = http.post(f"{self.url}/classify", json=self.big)
                    else:
                        body = self.oversized if kind == "oversized" else self.INVALID[i % len(self.INVALID)]
                        reply = http.post(f"{self.url}/classify", content=body,
                                          headers={"content-type": "application/json"})
                except httpx.HTTPError as err:
                    if kind == "oversized":  # the server may close before the whole body is sent: refused
                        self.count("oversized: closed early")
                        continue
                    self.server_failures.append(f"{kind}: {type(err).__name__}: {err}")
                    continue
                self.count(f"{kind}: {reply.status_code}")
                if reply.status_code >= 500 or "Traceback" in reply.text:
                    self.server_failures.append(f"{kind}: {reply.status_code} {reply.text[:200]}")

    def slow(self, kind: str) -> None:
        """Open a connection, trickle a byte each 0.5 s (or send nothing) until the server closes it; note how long
        it was held and what the server answered."""
        start_of = {"headers": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                    "body": b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{", "silent": b""}
        while time.time() < self.deadline:
            opened, reply = time.monotonic(), b""
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                try:
                    sock.sendall(start_of[kind])
                    while time.monotonic() - opened < 60:
                        try:
                            chunk = sock.recv(65536)
                        except TimeoutError:
                            if kind != "silent":
                                sock.sendall(b"a")
                            continue
                        if not chunk:
                            break
                        reply += chunk
                except OSError:  # reset, or a broken pipe: closed by the server
                    pass
            held = time.monotonic() - opened
            if held >= 60:
                self.server_failures.append(f"slow {kind}: still open after 60 s")
            self.count(f"slow {kind}: {reply.split(b' ', 2)[1].decode() if reply.startswith(b'HTTP/') else 'closed'}")
            self.held[kind] = max(self.held.get(kind, 0.0), held)

    def report(self) -> str:
        lines = ["hostile clients (kind: reply -> count):"]
        lines += [f"  {what}: {n}" for what, n in sorted(self.counts.items())]
        lines += [f"  slow {kind}: the longest held {seconds:.1f} s" for kind, seconds in sorted(self.held.items())]
        lines.append(f"server failures among them: {len(self.server_failures)}")
        lines += [f"  {failure}" for failure in self.server_failures[:5]]
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a fine-tuned sequence-classification folder")
    parser.add_argument("--data", type=Path, default=default_data(), help="SST-2 dev.tsv (sentences to send)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the clients send (default 30)")
    parser.add_argument("--per-request", type=int, default=1, help="sentences per request (default 1)")
    parser.add_argument("--backend", default="auto", help="the server's backend (default auto)")
    parser.add_argument("--threads", type=int, default=1, help="the server's CPU threads (default 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="the server's micro-batch size (default 32)")
    parser.add_argument("--hostile", action="store_true", help="slow, oversized and invalid clients beside them")
    parser.add_argument("--max-chars", type=int, default=20_000, help="the server's --max-chars (default 20000)")
    args = parser.parse_args()

    with args.data.open(encoding="utf-8") as f:
        sentences = [line.split("\t")[0] for line in f.read().splitlines()[1:] if line.strip()]
    config = load_config(args.model)
    labels = set((config.id2label or {}).values())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    server = subprocess.Popen([sys.executable, "-m", "wellread.cli", "serve", str(args.model), "--port", str(port),
                               "--backend", args.backend, "--batch-size", str(args.batch_size), "--max-chars",
                               str(args.max_chars), "--max-body-bytes", str(80 * args.max_chars)], env=env)
    try:
        health = wait_healthy(url, server)
        print(f"server up: {health['task']} on {health['backend']}, batch size {health['batch_size']}")
        latencies: list[float] = []
        failures: list[str] = []
        deadline = time.time() + args.seconds
        threads = [threading.Thread(target=client, args=(url, sentences, labels, args.per_request, deadline, seed,
                                                         latencies, failures)) for seed in range(args.clients)]
        hostile = Hostile(url, deadline, args.max_chars) if args.hostile else None
        start = time.time()
        for thread in threads + (hostile.threads() if hostile else []):
            thread.start()
        for thread in threads + (hostile.threads() if hostile else []):
            thread.join()
        elapsed = time.time() - start
        after = httpx.get(f"{url}/health", timeout=5).json()
        answered, status = shutdown_in_flight(url, server, sentences)
    finally:
        if server.poll() is None:
            server.kill()
    ms = np.array(latencies) * 1000
    requests = len(latencies) + sum(1 for f in failures if not f.startswith("status"))
    print(f"\n{args.clients} clients x {args.seconds:.0f} s, {args.per_request} sentence(s) per request, "
          f"server backend {health['backend']}, {args.threads} thread(s)")
    print(f"requests {requests}, failed {len(failures)}, {requests / elapsed:.1f} requests/s, "
          f"{len(latencies) * args.per_request / elapsed:.1f} sentences/s")
    if len(ms):
        print(f"latency ms: p50 {np.percentile(ms, 50):.1f}, p95 {np.percentile(ms, 95):.1f}, "
              f"p99 {np.percentile(ms, 99):.1f}, max {ms.max():.1f}")
    print(f"server: {after['batches']} batches for {after['records']} sentences "
          f"(mean batch {after['records'] / max(1, after['batches']):.1f})")
    print(f"SIGTERM with 8 requests of 64 sentences open: {answered}/8 answered, "
          f"{'clean exit (status 0)' if status == 0 else f'NOT a clean exit (status {status})'}")
    for failure in failures[:5]:
        print("failure:", failure)
    if hostile:
        print(hostile.report())
    sys.exit(1 if failures or status != 0 or answered != 8 or (hostile and hostile.server_failures) else 0)


if __name__ == "__main__":
    main()
