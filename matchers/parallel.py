"""Pure-CPU work over data already in memory, shared between this process and forked copies.

Scoring reads every record's features, which a full match has just built
(hundreds of MB at scale).  Forked workers inherit them without copying or
pickling; only each chunk's input and result cross between processes.

Chunks can be handed over while this process is still busy with other work:
a full match forks the workers first, then searches candidates (single-threaded
Python) and hands each step's pairs over as it finds them, so scoring starts
at once instead of after the search.  When this process has nothing else to
do, it takes queued chunks itself (``ForkedWorkers.results``).  Results come
back in the order the chunks were handed over, whoever did them, so the
output is the same whatever the number of workers.

Only work that computes much per byte it reads gains from this: each page
either process writes after the fork (reading an object writes its reference
count) is copied first.  Candidate generation's search for each record's best
candidates, which walks posting lists and adds up weights, took as long on two
processes as on one (2.3 to 2.5 s either way on the real lists).
"""
from __future__ import annotations

import gc
import multiprocessing
import pickle
import queue
import traceback
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Generic, Iterator, TypeVar

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")

_INHERITED: Any = None  # the caller's state, set before the fork and read by the workers

# How long this process waits for a result before it checks that the workers are alive.
_POLL_SECONDS = 0.5


def _work(function: Callable[[Any, Any], Any], tasks, results) -> None:
    """A worker's loop: numbered chunks in, numbered results (or the error, pickled here) out."""
    while (task := tasks.get()) is not None:
        n, chunk = task
        try:
            payload = (n, True, function(_INHERITED, chunk))
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
            try:
                payload = (n, False, pickle.dumps(exc))
            except Exception:  # an exception that cannot be pickled: its text still can
                payload = (n, False, pickle.dumps(RuntimeError(traceback.format_exc())))
        results.put(payload)


class ForkedWorkers(Generic[Chunk, Result]):
    """``function(state, chunk)`` for chunks handed over one by one; see ``forked_workers``."""

    def __init__(self, function: Callable[[Any, Chunk], Result], state: Any, workers: int):
        self.function, self.state = function, state
        self.submitted = 0          # chunks handed over
        self.next_result = 0        # the number of the next result to give back
        self.done: dict[int, Result] = {}
        self.local: deque[tuple[int, Chunk]] = deque()  # without workers: chunks not yet done
        self.processes: list = []
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self._tasks, self._results = context.Queue(), context.Queue()
            self.processes = [context.Process(target=_work, args=(function, self._tasks, self._results), daemon=True)
                              for _ in range(workers - 1)]

    def start(self) -> None:
        for process in self.processes:
            process.start()

    def submit(self, chunk: Chunk) -> None:
        """Hand a chunk over: a worker takes it, or this process at ``results(wait=True)``."""
        if self.processes:
            self._tasks.put((self.submitted, chunk))
        else:
            self.local.append((self.submitted, chunk))
        self.submitted += 1

    def results(self, wait: bool = False) -> Iterator[Result]:
        """Results in the order their chunks were handed over.

        ``wait=False``: those ready now; without workers, the queued chunks are
        done here first.  ``wait=True``: every result, this process doing
        queued chunks itself meanwhile.
        """
        while self.next_result < self.submitted:
            if self.next_result in self.done:
                yield self.done.pop(self.next_result)
                self.next_result += 1
            elif not self.processes:
                n, chunk = self.local.popleft()
                self.done[n] = self.function(self.state, chunk)
            elif not self._receive(wait):
                return

    def _receive(self, wait: bool) -> bool:
        """Take one result from the workers, or do one queued chunk here; False if not waiting and none is ready."""
        try:
            n, ok, result = self._results.get(block=False)
        except queue.Empty:
            if not wait:
                return False
            try:
                n, chunk = self._tasks.get_nowait()
            except queue.Empty:
                n, ok, result = self._wait_for_result()
            else:
                self.done[n] = self.function(self.state, chunk)
                return True
        if not ok:
            raise pickle.loads(result)
        self.done[n] = result
        return True

    def _wait_for_result(self):
        while True:
            try:
                return self._results.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                dead = [p for p in self.processes if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"a scoring worker stopped unexpectedly (exit code {dead[0].exitcode})") \
                        from None

    def close(self, failed: bool) -> None:
        """Stop the workers: at once after a failure, else once they have finished their loop."""
        if not self.processes:
            return
        # Results nobody collected would keep a worker from exiting (its pipe full).
        failed = failed or self.next_result < self.submitted
        if not failed:
            for _ in self.processes:
                self._tasks.put(None)
        for process in self.processes:
            if failed:
                process.terminate()
            process.join(None if not failed else 5)
            if process.is_alive():
                process.kill()
                process.join()
        for q in (self._tasks, self._results):
            q.cancel_join_thread()  # nothing left to deliver is worth waiting for
            q.close()


@contextmanager
def forked_workers(function: Callable[[Any, Chunk], Result], state: Any,
                   workers: int) -> Iterator[ForkedWorkers[Chunk, Result]]:
    """Workers computing ``function(state, chunk)``, forked now, stopped at the end of the block.

    ``function`` must be a module-level function; ``state`` is inherited through
    the fork, never pickled.  With one worker, or where processes cannot fork,
    every chunk is done in this process, when results are asked for.  Fork before
    starting threads of your own (a forked copy holds only the forking thread).
    """
    global _INHERITED
    pool: ForkedWorkers[Chunk, Result] = ForkedWorkers(function, state, workers)
    if pool.processes:
        _INHERITED = state
        # Frozen objects are left alone by the workers' garbage collector, which would
        # otherwise write to every object's header and so copy every page of the state.
        gc.freeze()
    failed = True
    try:
        pool.start()
        yield pool
        failed = False
    finally:
        try:
            pool.close(failed)
        finally:
            if pool.processes:
                gc.unfreeze()
                _INHERITED = None


def forked_map(function: Callable[[Any, Chunk], Result], state: Any, chunks: list[Chunk],
               workers: int) -> Iterator[Result]:
    """``function(state, chunk)`` for each chunk, in order, on ``workers`` processes (this one included)."""
    with forked_workers(function, state, workers if len(chunks) > 1 else 1) as pool:
        for chunk in chunks:
            pool.submit(chunk)
        yield from pool.results(wait=True)
