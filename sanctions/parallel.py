"""Pure-CPU work over data already in memory, split between this process and forked copies.

Scoring reads every record's features, which a full match has just built
(hundreds of MB at scale).  Forked workers inherit them without copying or
pickling; only each chunk's result crosses back.  Every process, this one
included, claims the next unclaimed chunk from one shared counter, so a
process that started late or runs slower simply takes fewer chunks.  That
lets this process do other work first (``meanwhile``: a full match writes
its keys while the workers already score), and results come back in chunk
order, so the output is the same whatever the number of workers.

Only work that computes much per byte it reads gains from this: each page
either process writes after the fork (reading an object writes its reference
count) is copied first.  Candidate generation's search for each record's best
candidates, which walks posting lists and adds up weights, took as long on two
processes as on one (2.3 to 2.5 s either way on the real lists).

Workers must not touch anything they inherited besides the state: above all
not the caller's database connection, which stays this process's.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import multiprocessing.connection
import threading
import traceback
from typing import Any, Callable, Iterator, Sequence, TypeVar

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")


def worker_processes() -> int:
    """Processes for parallel work (a large match's scoring, a first import's search entries):
    ``[performance] match_workers`` (0, the default, means one per CPU)."""
    from sanctions import config as settings
    workers = settings.load()[("performance", "match_workers")] or 0
    return workers if workers > 0 else (os.cpu_count() or 1)


def _claim(counter: Any, total: int) -> int | None:
    """The next unclaimed chunk's number, or None when every chunk is taken."""
    with counter.get_lock():
        n = counter.value
        if n >= total:
            return None
        counter.value = n + 1
        return n


def _work(function: Callable[[Any, Any], Any], state: Any, chunks: Sequence[Any], counter: Any, writer) -> None:
    """A forked worker: claim, compute and send chunks until none are left."""
    try:
        while (n := _claim(counter, len(chunks))) is not None:
            writer.send((n, function(state, chunks[n])))
    except BaseException as error:  # sent back to be raised where the caller can see it
        detail = "".join(traceback.format_exception(error))
        try:
            writer.send((None, (error, detail)))
        except Exception:  # the exception itself cannot be pickled: its text can
            writer.send((None, (RuntimeError(str(error)), detail)))
    finally:
        writer.close()


class _Received:
    """Results sent by the workers, gathered by a thread so that no worker waits on a full
    pipe while this process is busy elsewhere (``meanwhile``, or a chunk of its own)."""

    def __init__(self, readers: list) -> None:
        self.results: dict[int, Any] = {}
        self.failure: tuple[BaseException, str] | None = None
        self.open = len(readers)
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._receive, args=(readers,), daemon=True)
        self.thread.start()

    def _receive(self, readers: list) -> None:
        pending = list(readers)
        while pending:
            for reader in multiprocessing.connection.wait(pending):
                try:
                    n, result = reader.recv()
                except (EOFError, OSError):  # the worker is done, or died
                    pending.remove(reader)
                    reader.close()
                    with self.changed:
                        self.open -= 1
                        self.changed.notify_all()
                    continue
                with self.changed:
                    if n is None:
                        self.failure = self.failure or result
                    else:
                        self.results[n] = result
                    self.changed.notify_all()

    def take(self, n: int, wait: bool) -> tuple[bool, Any]:
        """(True, chunk n's result) if a worker sent it; with ``wait``, until one does."""
        with self.changed:
            while True:
                if self.failure:
                    error, detail = self.failure
                    raise error from RuntimeError(f"in a forked worker:\n{detail}")
                if n in self.results:
                    return True, self.results.pop(n)
                if not wait:
                    return False, None
                if not self.open:
                    raise RuntimeError(f"a forked worker ended without sending the result of chunk {n}")
                self.changed.wait()


def forked_map(function: Callable[[Any, Chunk], Result], state: Any, chunks: Sequence[Chunk],
               workers: int, meanwhile: Callable[[], None] | None = None) -> Iterator[Result]:
    """``function(state, chunk)`` for each chunk, in order, on ``workers`` processes.

    ``function`` must be a module-level function; ``state`` and ``chunks`` are
    inherited through the fork, never pickled.  ``meanwhile`` runs in this
    process once the workers have started, before it takes chunks itself
    (before the first result is yielded).  With one worker, or where processes
    cannot fork, everything runs here, ``meanwhile`` first.
    """
    if workers <= 1 or len(chunks) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        if meanwhile is not None:
            meanwhile()
        for chunk in chunks:
            yield function(state, chunk)
        return
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    processes = []
    received = None
    finished = False
    # Frozen objects are left alone by the workers' garbage collector, which would
    # otherwise write to every object's header and so copy every page of the state.
    gc.freeze()
    try:
        readers = []
        for _ in range(min(workers, len(chunks)) - 1):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(function, state, chunks, counter, writer), daemon=True)
            process.start()
            writer.close()  # the worker's end: its closing is how a finished or dead worker shows
            processes.append(process)
            readers.append(reader)
        received = _Received(readers)
        if meanwhile is not None:
            meanwhile()
        ready: dict[int, Result] = {}  # results not yet yielded: this process's, or chunk n once received
        for n in range(len(chunks)):
            while n not in ready:
                found, result = received.take(n, wait=False)
                if found:
                    ready[n] = result
                    break
                mine = _claim(counter, len(chunks))
                if mine is None:  # every chunk is taken: n is a worker's
                    ready[n] = received.take(n, wait=True)[1]
                else:
                    ready[mine] = function(state, chunks[mine])
            yield ready.pop(n)
        finished = True
    finally:
        for process in processes:
            if finished:
                process.join(timeout=10)  # it has sent its last result and is leaving
            if process.is_alive():
                process.terminate()  # the caller stopped early, or something failed
            process.join()
        if received is not None:
            # Every worker is gone, so every pipe is closed: the thread ends (none is left for a later fork).
            received.thread.join()
        gc.unfreeze()
