"""Request micro-batching: records from concurrent requests run through the pipeline together, fairly.

Requests hand their (already validated) records to `MicroBatcher.submit`. One worker task takes the waiting
records, waits up to `max_wait` seconds for more while fewer than `max_batch` have arrived, runs a batch through
the pipeline in a worker thread (the event loop keeps accepting requests meanwhile) and hands each request its
outputs, in its own order.

Fairness: a batch holds at most `max_batch` records and at most `max_cost` of their estimated cost (tokens),
and is filled one record at a time from the request that has had the fewest records run so far (the oldest
first among equals), not first come, first served: a one-sentence request that arrives behind eight requests of
64 long texts runs in the next batch, not after the 512 texts.

Isolation: a batch that fails is run again request by request, so a bad record fails only the request it came
in, never another client's. `close` finishes every record already submitted before it returns (graceful
shutdown).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Run = Callable[[list[Any]], list[Any]]
FATAL = (asyncio.CancelledError, KeyboardInterrupt, SystemExit)
"""BaseExceptions that stop the worker; others (a tokenizer's pyo3 PanicException) fail the request only."""


class BatcherClosed(RuntimeError):
    """Records submitted after `close` (the server is shutting down)."""


@dataclass(eq=False)
class _Job:
    records: list[Any]
    future: asyncio.Future
    order: int
    outputs: list[Any] = field(default_factory=list)
    taken: int = 0  # records of this job handed to a batch so far (they are taken in order)
    done: int = 0  # records of this job already in a finished batch


class MicroBatcher:
    """Collects records from many requests into batches for `run` (see the module's docstring).

    cost: a record's estimated cost (default 1 each); max_cost: the most a batch may hold (a record that costs
    more runs alone).
    """

    def __init__(self, run: Run, max_batch: int = 32, max_wait: float = 0.005,
                 cost: Callable[[Any], float] | None = None, max_cost: float = float("inf")) -> None:
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.cost = cost or (lambda record: 1)
        self.max_cost = max_cost
        self.queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        self.order = itertools.count()
        self.batches = 0
        """Batches run so far (for the health endpoint and the tests)."""
        self.records = 0
        self.retried = 0
        """Failed batches run again request by request."""

    def start(self) -> None:
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def submit(self, records: list[Any]) -> list[Any]:
        """The pipeline's outputs for `records`, in order (records may be split across batches)."""
        if self.worker is None or self.worker.done():
            raise BatcherClosed("the server is shutting down")
        job = _Job(list(records), asyncio.get_running_loop().create_future(), next(self.order))
        job.outputs = [None] * len(job.records)
        await self.queue.put(job)
        return await job.future

    async def close(self) -> None:
        """Run everything already submitted, then stop the worker."""
        if self.worker is not None:
            await self.queue.put(None)
            await self.worker

    async def _work(self) -> None:
        pending: list[_Job] = []
        stopping = False
        while not stopping or pending:
            if not pending:
                job = await self.queue.get()
                if job is None:
                    stopping = True
                    continue
                pending.append(job)
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while not stopping and sum(len(j.records) - j.taken for j in pending) < self.max_batch:
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
                    pending.append(job)
            while not self.queue.empty():  # everything that arrived during the last batch competes for this one
                job = self.queue.get_nowait()
                if job is None:
                    stopping = True
                else:
                    pending.append(job)
            await self._run_batch(self._take(pending))
            pending = [j for j in pending if j.taken < len(j.records) and not j.future.done()]

    def _take(self, pending: list[_Job]) -> list[tuple[_Job, int]]:
        """(job, record index) pairs of the next batch: least-served request first, within both limits."""
        heap = [(j.taken, j.order, j) for j in pending if j.taken < len(j.records) and not j.future.done()]
        heapq.heapify(heap)
        batch: list[tuple[_Job, int]] = []
        cost = 0.0
        while heap and len(batch) < self.max_batch:
            taken, order, job = heap[0]
            record_cost = self.cost(job.records[taken])
            if batch and cost + record_cost > self.max_cost:
                break
            batch.append((job, taken))
            cost += record_cost
            job.taken += 1
            if job.taken < len(job.records):
                heapq.heapreplace(heap, (job.taken, order, job))
            else:
                heapq.heappop(heap)
        return batch

    async def _run_batch(self, batch: list[tuple[_Job, int]]) -> None:
        """Run `batch`; if it fails with records of several requests, run each request's records alone."""
        if not batch:
            return
        try:
            outputs = await asyncio.to_thread(self.run, [job.records[i] for job, i in batch])
        except BaseException as err:  # a failed batch fails its request, not the server (tokenizer panics
            if isinstance(err, FATAL):  # are BaseExceptions)
                raise
            jobs = list(dict.fromkeys(job for job, _ in batch))
            if len(jobs) == 1:
                self._fail(jobs[0], err)
                return
            self.retried += 1
            for job in jobs:
                await self._run_batch([(j, i) for j, i in batch if j is job])
            return
        self.batches += 1
        self.records += len(batch)
        for (job, i), output in zip(batch, outputs, strict=True):
            job.outputs[i] = output
            job.done += 1
            if job.done == len(job.records) and not job.future.done():
                job.future.set_result(job.outputs)

    def _fail(self, job: _Job, err: BaseException) -> None:
        if not job.future.done():
            job.future.set_exception(err)
