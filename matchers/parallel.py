"""Pure-CPU work over data already in memory, shared between this process and forked copies.

Scoring reads every record's features, which a full match has just built
(hundreds of MB at scale).  Forked workers inherit them without copying or
pickling; only each chunk's input and result cross between processes.  (A
full match builds those features on forked workers too, handing them the
stored JSON a chunk at a time: there the features come back pickled.)

Chunks can be handed over while this process is still busy with other work:
a full match forks the workers first, then searches candidates (single-threaded
Python) and hands each step's pairs over as it finds them, so scoring starts
at once instead of after the search.  Once this process has nothing else to
do, it takes chunks not yet handed over itself (``ForkedWorkers.results``).
Results come back in the order the chunks were submitted, whoever did them,
so the output is the same whatever the number of workers.

Each worker has a pipe of its own, and at most ``IN_FLIGHT`` chunks: the rest
wait here, where this process can take them without asking anyone.  A worker
sends its results from a thread of its own, so it goes on computing while this
process is busy elsewhere, and takes chunks off its pipe on another, so that
handing it a chunk larger than a pipe holds (a full match's records, to build
their features) never waits for the chunk before.  Failures are reported,
never waited for: a worker's exception is raised here; a worker that dies (or
is killed, even halfway through sending a result) is noticed by its pipe
closing; a worker whose parent dies sees its pipe close and exits after the
chunk it is on, so it cannot outlive the parent holding copies of its lock
files or database connections.

Only work that computes much per byte it reads gains from this: each page
either process writes after the fork (reading an object writes its reference
count) is copied first.  Candidate generation's search for each record's best
candidates, which walks posting lists and adds up weights, took as long on two
processes as on one (2.3 to 2.5 s either way on the real lists).
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections import deque
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait as ready_among
from typing import Any, Callable, Generic, Iterator, TypeVar

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")

# Chunks handed to one worker before it has returned any: two, so that a worker never
# waits for this process (busy searching, or scoring a chunk itself) between two chunks,
# and at the end this process waits for at most two chunks of each worker's.
IN_FLIGHT = 2


def _work(function: Callable[[Any, Any], Any], state: Any, conn: Connection, parent_ends: list[Connection]) -> None:
    """A worker's loop: (number, chunk) in, (number, ok, pickled result or error) out, until None or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    for other in parent_ends:
        # This process's ends of the pipes: only this process may hold them, so that its
        # death closes them and the worker, waiting for a chunk, sees EOF and exits.
        other.close()
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    inbox: queue.SimpleQueue[tuple[int, Any] | None] = queue.SimpleQueue()

    def send() -> None:
        try:
            while (message := outbox.get()) is not None:
                conn.send_bytes(message)
        except OSError:
            pass  # the parent closed the pipe: it has given up on the results

    gone = threading.Event()  # the parent closed its end: chunks not yet begun are dropped

    def receive() -> None:
        # Chunks are taken off the pipe as they come, not when the last one is done: a
        # chunk larger than the pipe's buffer (the records' JSON when features are built)
        # would otherwise keep the parent waiting in its send until then.
        try:
            while (task := conn.recv()) is not None:
                inbox.put(task)
        except (EOFError, OSError):
            gone.set()  # the parent is gone, or has given up: nothing left to do
        except BaseException as exc:  # noqa: BLE001 - a chunk that cannot be read is the parent's to report
            outbox.put(_pickled_error(-1, exc))
        finally:
            inbox.put(None)

    sender = threading.Thread(target=send, daemon=True)
    receiver = threading.Thread(target=receive, daemon=True)
    sender.start()
    receiver.start()
    try:
        while (task := inbox.get()) is not None and not gone.is_set():
            n, chunk = task
            try:
                message = pickle.dumps((n, True, function(state, chunk)), pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
                outbox.put(_pickled_error(n, exc))
            else:
                outbox.put(message)
    finally:
        outbox.put(None)
        sender.join()


def _pickled_error(n: int, exc: BaseException) -> bytes:
    """The worker's exception, with its traceback as a note; its text alone if it cannot travel."""
    text = traceback.format_exc()
    try:
        exc.add_note(f"in a forked worker (pid {os.getpid()}):\n{text}")
        message = pickle.dumps((n, False, exc), pickle.HIGHEST_PROTOCOL)
        pickle.loads(message)  # an exception that pickles but cannot be rebuilt fails here, not there
        return message
    except Exception:
        return pickle.dumps((n, False, RuntimeError(f"a forked worker failed:\n{text}")))


class WorkerFailed(RuntimeError):
    """A worker stopped without finishing its chunks (killed, or out of memory)."""


def _stopped(process) -> WorkerFailed:
    """The error for a worker found dead (waited for, so that its exit code is known)."""
    process.join()
    return WorkerFailed(f"a forked worker stopped unexpectedly (exit code {process.exitcode})")


class ForkedWorkers(Generic[Chunk, Result]):
    """``function(state, chunk)`` for chunks handed over one by one; made by ``forked_workers``."""

    def __init__(self, function: Callable[[Any, Chunk], Result], state: Any, workers: int):
        self.function, self.state = function, state
        self.workers = workers - 1 if workers > 1 and "fork" in multiprocessing.get_all_start_methods() else 0
        self.submitted = 0                             # chunks submitted
        self.next_result = 0                           # the number of the next result to give back
        self.waiting: deque[tuple[int, Chunk]] = deque()  # submitted, not yet handed to anyone
        self.done: dict[int, Result] = {}
        self.processes: list[Any] = []
        self.pipes: list[Connection] = []
        self.in_flight: list[int] = []

    def start(self) -> None:
        """Fork the workers; each closes its copies of this process's ends of the pipes."""
        context = multiprocessing.get_context("fork")
        for _ in range(self.workers):
            here, there = context.Pipe()
            process = context.Process(target=_work, args=(self.function, self.state, there, self.pipes + [here]),
                                      daemon=True)
            process.start()
            there.close()  # only the worker holds its end: its death closes the pipe
            self.processes.append(process)
            self.pipes.append(here)
            self.in_flight.append(0)

    def submit(self, chunk: Chunk) -> None:
        """Hand a chunk over: to a worker with room for it, else kept here for later."""
        self.waiting.append((self.submitted, chunk))
        self.submitted += 1
        self._hand_over()

    def _hand_over(self) -> None:
        for k, pipe in enumerate(self.pipes):
            while self.waiting and self.in_flight[k] < IN_FLIGHT:
                pipe.send(self.waiting.popleft())
                self.in_flight[k] += 1

    def results(self, wait: bool = False, backlog: int | None = None) -> Iterator[Result]:
        """Results in the order their chunks were submitted.

        ``wait=False``: those ready now (without workers, chunks are done here
        first).  ``wait=True``: every result, this process doing chunks not yet
        handed over meanwhile.  ``backlog``: chunks beyond this many waiting for
        a worker are done here first, so that a caller submitting as it reads
        never holds more than that many unread.
        """
        while self.next_result < self.submitted:
            if self.next_result in self.done:
                self.next_result += 1
                yield self.done.pop(self.next_result - 1)
            elif self.processes and self._receive(block=False):
                continue  # results taken, and chunks handed to the workers that sent them
            elif self.waiting and (not self.processes or wait or (backlog is not None and len(self.waiting) > backlog)):
                n, chunk = self.waiting.popleft()
                self.done[n] = self.function(self.state, chunk)
            elif not wait:
                return
            else:
                self._receive(block=True)

    def _receive(self, block: bool) -> bool:
        """Take the results the workers have sent; False if none was there (and not blocking)."""
        sentinels = {p.sentinel: p for p in self.processes}
        while True:
            ready = ready_among(self.pipes + list(sentinels), timeout=None if block else 0)
            received = False
            for k, pipe in enumerate(self.pipes):
                if pipe not in ready:
                    continue
                try:
                    n, ok, result = pickle.loads(pipe.recv_bytes())
                except (EOFError, OSError):
                    raise _stopped(self.processes[k]) from None
                if not ok:
                    raise result
                self.done[n] = result
                self.in_flight[k] -= 1
                received = True
            if received:
                self._hand_over()
                return True
            dead = [sentinels[s] for s in ready if s in sentinels]
            if dead:
                # Its pipe may not show the end yet: the process is exiting, its files closing.
                raise _stopped(dead[0])
            if not block:
                return False

    def close(self, failed: bool) -> None:
        """Stop the workers: after a failure at once, else once they have exited by themselves.

        A worker told to stop has nothing left to do but exit, so one still running
        after a few seconds is stuck (say, on a lock a thread of this process held at
        the fork) and is stopped by a signal: closing never hangs.
        """
        for pipe in self.pipes:
            try:
                if not failed:
                    pipe.send(None)
            except OSError:
                pass
            pipe.close()  # a worker still reading sees EOF
        for process in self.processes:
            process.join(5 if not failed else 0.5)
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join()


@contextmanager
def forked_workers(function: Callable[[Any, Chunk], Result], state: Any,
                   workers: int) -> Iterator[ForkedWorkers[Chunk, Result]]:
    """``workers - 1`` forked workers computing ``function(state, chunk)``, stopped at the end of the block.

    ``state`` is inherited through the fork, never pickled.  With one worker,
    or where processes cannot fork, every chunk is done in this process, when
    results are asked for.  A forked copy holds only the forking thread, so
    fork before starting threads whose locks a worker could need (a match
    starts its SQLite writer thread inside the block); the workers touch only
    ``state``, their pipes and the pickle module, never the terminal, which the
    command line's progress thread may be writing to at the fork.  Every
    result must be collected (``results(wait=True)``) before the block ends.
    """
    pool: ForkedWorkers[Chunk, Result] = ForkedWorkers(function, state, workers)
    if pool.workers:
        # Frozen objects are left alone by the workers' garbage collector, which would
        # otherwise write to every object's header and so copy every page of the state.
        gc.freeze()
    failed = True
    try:
        pool.start()
        yield pool
        failed = False
    finally:
        # Results nobody collected: a bug in the caller, and pairs that would be lost.
        uncollected = not failed and pool.next_result < pool.submitted
        try:
            pool.close(failed or uncollected)
        finally:
            if pool.workers:
                gc.unfreeze()
    if uncollected:
        raise RuntimeError(f"{pool.submitted - pool.next_result} results were never collected")


def forked_map(function: Callable[[Any, Chunk], Result], state: Any, chunks: list[Chunk],
               workers: int) -> Iterator[Result]:
    """``function(state, chunk)`` for each chunk, in order, on ``workers`` processes (this one included)."""
    with forked_workers(function, state, workers if len(chunks) > 1 else 1) as pool:
        for chunk in chunks:
            pool.submit(chunk)
        yield from pool.results(wait=True)
