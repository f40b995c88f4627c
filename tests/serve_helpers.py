"""A real `wellread serve` process on a free loopback port, for the server tests (not a test module).

    with running_server(models["classify"], "--max-inputs", "8", key="k") as server:
        httpx.post(f"{server.url}/classify", json=..., headers=server.auth)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from helpers import free_port


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    stderr: Path
    auth: dict[str, str]

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def open_files(self) -> int:
        """How many file descriptors the server process holds (Linux)."""
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))


@contextlib.contextmanager
def running_server(model: Path, *args: str, key: str | None = None, host: str = "127.0.0.1",
                   log: Path | None = None, threads: int = 1) -> Iterator[Server]:
    """Start `wellread serve MODEL ARGS` (with $WELLREAD_API_KEY = key, `threads` CPU threads), wait for /health,
    stop it with SIGTERM."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "WELLREAD_API_KEY"}
    env.update({"OMP_NUM_THREADS": str(threads), "PYTHONPATH": os.pathsep.join(sys.path)})
    if key is not None:
        env["WELLREAD_API_KEY"] = key
    stderr = log or model.parent / f"serve-{port}.log"
    with stderr.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "wellread.cli", "serve", str(model), "--host", host,
                                    "--port", str(port), "--backend", "torch", *args], stderr=sink, env=env)
    server = Server(f"http://127.0.0.1:{port}", process, stderr, {"Authorization": f"Bearer {key}"} if key else {})
    try:
        deadline = time.time() + 90
        while True:
            assert process.poll() is None, f"the server exited: {server.log()}"
            assert time.time() < deadline, f"the server did not start: {server.log()}"
            try:
                httpx.get(f"{server.url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
