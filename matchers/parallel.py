"""Pure-CPU work over data already in memory, split between this process and forked copies.

Scoring reads every record's features, which a full match has just built
(hundreds of MB at scale).  Forked workers inherit them without copying or
pickling; only each chunk's input and result cross between processes.  This
process takes every ``workers``-th chunk itself (one forked copy fewer of the
pages it touches), and results come back in chunk order, so the output is
the same whatever the number of workers.

Only work that computes much per byte it reads gains from this: each page
either process writes after the fork (reading an object writes its reference
count) is copied first.  Candidate generation's search for each record's best
candidates, which walks posting lists and adds up weights, took as long on two
processes as on one (2.3 to 2.5 s either way on the real lists).
"""
from __future__ import annotations

import gc
import multiprocessing
from functools import partial
from typing import Any, Callable, Iterator, Sequence, TypeVar

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")

_INHERITED: Any = None  # the caller's state, set before the fork and read by the workers


def _call(function: Callable[[Any, Any], Any], chunk: Any) -> Any:
    return function(_INHERITED, chunk)


def forked_map(function: Callable[[Any, Chunk], Result], state: Any, chunks: Sequence[Chunk],
               workers: int) -> Iterator[Result]:
    """``function(state, chunk)`` for each chunk, in order, on ``workers`` processes.

    ``function`` must be a module-level function (the workers find it by
    name); ``state`` is inherited through the fork, never pickled.  With one
    worker, or where processes cannot fork, everything runs here.
    """
    if workers <= 1 or len(chunks) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for chunk in chunks:
            yield function(state, chunk)
        return
    global _INHERITED
    _INHERITED = state
    # Frozen objects are left alone by the workers' garbage collector, which would
    # otherwise write to every object's header and so copy every page of the state.
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(workers - 1) as pool:
            remote = pool.imap(partial(_call, function), (c for n, c in enumerate(chunks) if n % workers))
            for n, chunk in enumerate(chunks):
                yield next(remote) if n % workers else function(state, chunk)
    finally:
        gc.unfreeze()
        _INHERITED = None
