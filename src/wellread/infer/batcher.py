"""Request micro-batching: records from concurrent requests run through the pipeline together.

Requests hand their (already validated) records to `MicroBatcher.submit`. One worker task takes the waiting
records, waits up to `max_wait` seconds for more while fewer than `max_batch` have arrived, runs them through
the pipeline in a worker thread (the event loop keeps accepting requests meanwhile) and hands each request its
outputs, in its own order. A batch that fails fails only its own requests. `close` finishes every record
already submitted before it returns (graceful shutdown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Run = Callable[[list[Any]], list[Any]]


class BatcherClosed(RuntimeError):
    """Records submitted after `close` (the server is shutting down)."""


@dataclass
class _Job:
    records: list[Any]
    future: asyncio.Future
    outputs: list[Any] = field(default_factory=list)
    done: int = 0  # records of this job already in a finished batch


class MicroBatcher:
    """Collects records from many requests into batches of at most `max_batch` for `run`."""

    def __init__(self, run: Run, max_batch: int = 32, max_wait: float = 0.005) -> None:
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        self.batches = 0
        """Batches run so far (for the health endpoint and the tests)."""
        self.records = 0

    def start(self) -> None:
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def submit(self, records: list[Any]) -> list[Any]:
        """The pipeline's outputs for `records`, in order (records may be split across batches)."""
        if self.worker is None or self.worker.done():
            raise BatcherClosed("the server is shutting down")
        job = _Job(list(records), asyncio.get_running_loop().create_future())
        job.outputs = [None] * len(job.records)
        await self.queue.put(job)
        return await job.future

    async def close(self) -> None:
        """Run everything already submitted, then stop the worker."""
        if self.worker is not None:
            await self.queue.put(None)
            await self.worker

    async def _work(self) -> None:
        pending: list[tuple[_Job, int]] = []  # (job, index of its next record)
        stopping = False
        while not stopping or pending:
            if not pending:
                job = await self.queue.get()
                if job is None:
                    stopping = True
                    continue
                pending.append((job, 0))
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while not stopping and sum(len(j.records) - i for j, i in pending) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                if job is None:
                    stopping = True
                else:
                    pending.append((job, 0))
            pending = await self._run_batch(pending)

    async def _run_batch(self, pending: list[tuple[_Job, int]]) -> list[tuple[_Job, int]]:
        """Run up to max_batch records from the front of `pending`; return what is left."""
        taken: list[tuple[_Job, int, int]] = []  # (job, first, end)
        room = self.max_batch
        left: list[tuple[_Job, int]] = []
        for job, first in pending:
            if room == 0:
                left.append((job, first))
                continue
            end = min(len(job.records), first + room)
            taken.append((job, first, end))
            room -= end - first
            if end < len(job.records):
                left.append((job, end))
        batch = [r for job, first, end in taken for r in job.records[first:end]]
        try:
            outputs = await asyncio.to_thread(self.run, batch)
        except BaseException as err:  # a failed batch fails its requests, not the server (tokenizer panics
            if isinstance(err, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):  # are BaseExceptions)
                raise
            for job, _, _ in taken:
                if not job.future.done():
                    job.future.set_exception(err)
            return [(job, first) for job, first in left if not job.future.done()]
        self.batches += 1
        self.records += len(batch)
        position = 0
        for job, first, end in taken:
            job.outputs[first:end] = outputs[position:position + end - first]
            position += end - first
            job.done += end - first
            if job.done == len(job.records) and not job.future.done():
                job.future.set_result(job.outputs)
        return left
