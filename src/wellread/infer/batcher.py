"""Request micro-batching: records from concurrent requests run through the pipeline together, fairly.

Requests hand their (already validated) records to `MicroBatcher.submit`. One worker task takes the waiting
records, waits up to `max_wait` seconds for more while fewer than `max_batch` have arrived, runs a batch through
the pipeline in a worker thread (the event loop keeps accepting requests meanwhile) and hands each request its
outputs, in its own order.

Fairness (self-clocked fair queueing, by estimated cost): a request's records get virtual finish tags, starting
from the virtual time when it arrives and adding each record's cost (estimated tokens); batches take the lowest
tags first (the oldest request among equals), so concurrent requests share the model in proportion to their
cost, round-robin, and a stream of cheap requests delays a costly one only until their tags pass its tag. A
record joins a batch only if it costs at most `SIMILAR` times the batch's first and the batch stays within
`max_batch` records and `max_cost` (every record counted as padded to the batch's longest); one left out keeps its
tag. A one-sentence request that arrives behind eight requests of 64 long texts runs in the next batch, with other
short records, not after the 512 texts nor padded to their length.

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
SIMILAR = 4
"""A record joins a batch only if it costs at most this many times the batch's first record."""
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
    finish: float = 0.0  # virtual finish tag of its last record taken (the virtual time when it arrived, at first)
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
        self.vtime = 0.0
        """Virtual time: the largest finish tag taken into a batch so far."""
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
        job = _Job(list(records), asyncio.get_running_loop().create_future(), next(self.order), finish=self.vtime)
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
        """(job, record index) pairs of the next batch (see the module's docstring)."""
        heap = [self._tag(job) for job in pending if job.taken < len(job.records) and not job.future.done()]
        heapq.heapify(heap)
        batch: list[tuple[_Job, int]] = []
        first = widest = 0.0
        while heap and len(batch) < self.max_batch:
            finish, _, cost, job = heapq.heappop(heap)
            if batch and (cost > SIMILAR * first or (len(batch) + 1) * max(widest, cost) > self.max_cost):
                continue  # not in this batch: padded to its length, the batch would cost too much
            first, widest = first or cost, max(widest, cost)
            batch.append((job, job.taken))
            job.taken += 1
            job.finish = finish
            self.vtime = max(self.vtime, finish)
            if job.taken < len(job.records):
                heapq.heappush(heap, self._tag(job))
        return batch

    def _tag(self, job: _Job) -> tuple[float, int, float, _Job]:
        """The heap key of a job's next record: its virtual finish tag, then the job's age (its cost rides along)."""
        cost = self.cost(job.records[job.taken])
        return job.finish + cost, job.order, cost, job

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
