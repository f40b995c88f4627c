"""Load test of `wellread serve`: concurrent clients on loopback for a bounded time; failures and latency.

Starts `wellread serve MODEL` as a second process on a free loopback port, waits for /health, then runs
--clients client threads (one keep-alive connection each) that send SST-2 dev sentences (--per-request of them
per request) for --seconds. Every reply must be 200 with one output per input and a label of the model's; any
other reply or a connection error counts as a failed request. Then 8 requests of 64 sentences are sent and the
server gets SIGTERM once they have arrived: it must answer all 8 and exit with status 0 (graceful shutdown).
Prints requests, failures, requests/s, sentences/s, latency percentiles and the server's mean batch size
(requests are micro-batched); exits 1 when any request failed or the shutdown was not clean.

  python benchmarks/serve_load.py --model /work/runs/mini-sst2 --clients 16 --seconds 30
  python benchmarks/serve_load.py --model sst2-mini --backend onnx-int8 --per-request 4 --threads 2
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
    args = parser.parse_args()

    with args.data.open(encoding="utf-8") as f:
        sentences = [line.split("\t")[0] for line in f.read().splitlines()[1:] if line.strip()]
    config = load_config(args.model)
    labels = set((config.id2label or {}).values())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    server = subprocess.Popen([sys.executable, "-m", "wellread.cli", "serve", str(args.model), "--port", str(port),
                               "--backend", args.backend, "--batch-size", str(args.batch_size)], env=env)
    try:
        health = wait_healthy(url, server)
        print(f"server up: {health['task']} on {health['backend']}, batch size {health['batch_size']}")
        latencies: list[float] = []
        failures: list[str] = []
        deadline = time.time() + args.seconds
        threads = [threading.Thread(target=client, args=(url, sentences, labels, args.per_request, deadline, seed,
                                                         latencies, failures)) for seed in range(args.clients)]
        start = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
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
    sys.exit(1 if failures or status != 0 or answered != 8 else 0)


if __name__ == "__main__":
    main()
