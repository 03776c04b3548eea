"""Forked workers (``sanctions.parallel``): the same results in the same order as one process,
work shared while this process does something else first, and failures raised, never hung on."""
from __future__ import annotations

import multiprocessing
import os
import time

import pytest
from sqlalchemy import select

from sanctions.parallel import forked_map
from sanctions import matching, pipeline
from sanctions.db import session_factory
from sanctions.models import MatchKey, MatchPair, MatchState
from tests.test_matching import import_samples

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="forked workers need the fork start method (Linux, macOS)")
PARENT = os.getpid()


def tagged(state, chunk):
    """Each chunk's sum with the state, and which process computed it."""
    time.sleep(state["pause"])
    return sum(chunk) + state["add"], os.getpid()


def fails_in_a_worker(state, chunk):
    if os.getpid() != PARENT:
        raise ValueError(f"chunk {chunk[0]} cannot be scored")
    time.sleep(0.01)
    return chunk[0]


def dies_in_a_worker(state, chunk):
    if os.getpid() != PARENT:
        os._exit(3)  # killed, as by the out-of-memory killer: nothing is sent back
    time.sleep(0.01)
    return chunk[0]


CHUNKS = [list(range(k, k + 5)) for k in range(0, 200, 5)]
EXPECTED = [sum(chunk) + 7 for chunk in CHUNKS]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_back_in_order_whatever_the_workers(workers):
    results = list(forked_map(tagged, {"add": 7, "pause": 0.002}, CHUNKS, workers))
    assert [value for value, _ in results] == EXPECTED
    processes = {pid for _, pid in results}
    assert PARENT in processes or workers > 1
    assert len(processes) <= workers
    assert not multiprocessing.active_children()


def test_workers_score_while_this_process_does_something_else():
    done = []

    def meanwhile():
        assert os.getpid() == PARENT
        time.sleep(0.5)  # the workers have every chunk to themselves for this long
        done.append(True)

    results = []
    for value, pid in forked_map(tagged, {"add": 7, "pause": 0.01}, CHUNKS, 2, meanwhile):
        assert done, "a result was yielded before meanwhile finished"
        results.append((value, pid))
    assert [value for value, _ in results] == EXPECTED
    # The worker took chunks while this process slept, and this one took the rest.
    by_worker = sum(pid != PARENT for _, pid in results)
    assert by_worker >= 5


def test_one_process_runs_meanwhile_first():
    order = []
    results = forked_map(tagged, {"add": 7, "pause": 0}, CHUNKS, 1, lambda: order.append("meanwhile"))
    for value, pid in results:
        order.append(value)
        assert pid == PARENT
    assert order == ["meanwhile", *EXPECTED]


def test_an_error_in_a_worker_is_raised_here():
    with pytest.raises(ValueError, match="cannot be scored") as raised:
        list(forked_map(fails_in_a_worker, None, CHUNKS, 2))
    assert "in a forked worker" in str(raised.value.__cause__)
    assert not multiprocessing.active_children()


def test_a_worker_that_dies_is_reported_not_waited_for():
    with pytest.raises(RuntimeError, match="ended without sending the result of chunk"):
        list(forked_map(dies_in_a_worker, None, CHUNKS, 2))
    assert not multiprocessing.active_children()


def test_stopping_early_stops_the_workers():
    results = forked_map(tagged, {"add": 7, "pause": 0.02}, CHUNKS, 3)
    assert next(results)[0] == EXPECTED[0]
    results.close()
    assert not multiprocessing.active_children()


def stored(engine) -> tuple:
    with session_factory(engine)() as session:
        return (session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.score, MatchPair.band,
                                       MatchPair.explanation).order_by(MatchPair.id)).all(),
                sorted(session.execute(select(MatchKey.designation_id, MatchKey.key)).all()),
                session.execute(select(MatchState.designation_id, MatchState.candidates)
                                .order_by(MatchState.designation_id)).all())


def test_a_full_match_stores_the_same_on_one_process_or_several(engine, monkeypatch):
    """Scoring forked into small batches, keys written meanwhile: every pair (in the same order),
    key and best list as when one process does it all."""
    import_samples(engine)
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "1")
    pipeline.match(engine, full=True)
    alone = stored(engine)
    monkeypatch.setattr(matching, "PARALLEL_MIN", 0)
    monkeypatch.setattr(matching, "SCORE_BATCH", 7)
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "3")
    pipeline.match(engine, full=True)
    assert stored(engine) == alone
    assert len(alone[0]) > 20 and len(alone[1]) > 1000
