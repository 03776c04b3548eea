"""Forked scoring workers (``matchers.parallel``): order, failures, and a full match that forks.

A full match hands pairs to the workers while it is still searching for more
and writing keys, so these check what the store must never see: results out
of order, a worker's error lost or turned into a hang, a worker left running.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from functools import partial

import pytest
from sqlalchemy import select

from matchers import parallel
from matchers.candidates import search_candidates
from matchers.parallel import forked_map, forked_workers
from sanctions import matching, pipeline
from sanctions.db import session_factory
from sanctions.models import MatchKey, MatchPair, MatchState, TargetMember
from tests.test_matching import import_samples


def _square_with_pid(state: int, chunk: int) -> tuple[int, int]:
    return os.getpid(), chunk * chunk + state


# The failing functions below fail only in a forked worker (``state`` is the pid of the
# test's process), and the tests give the worker time to take every chunk first: this
# process also takes queued chunks once it waits, and would raise the error itself.
def _fail_on_three(state: int, chunk: int) -> int:
    if chunk == 3 and os.getpid() != state:
        raise ValueError(f"chunk {chunk} is bad")
    return chunk


class _Unpicklable(Exception):
    def __init__(self):
        super().__init__("cannot travel")
        self.lock = threading.Lock()  # a lock cannot be pickled


def _fail_unpicklably(state: int, chunk: int) -> int:
    if chunk == 2 and os.getpid() != state:
        raise _Unpicklable()
    return chunk


def _die_on_two(state: int, chunk: int) -> int:
    if chunk == 2 and os.getpid() != state:
        os.kill(os.getpid(), signal.SIGKILL)
    return chunk


def _handed_to_the_worker(function, chunks: int) -> None:
    """Every chunk handed over and taken by the one worker, then every result waited for."""
    with forked_workers(function, os.getpid(), 2) as pool:
        for n in range(chunks):
            pool.submit(n)
        time.sleep(0.5)
        list(pool.results(wait=True))


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_back_in_order_whoever_did_them(workers):
    with forked_workers(_square_with_pid, 7, workers) as pool:
        seen = []
        for round_ in range(4):
            for n in range(round_ * 25, round_ * 25 + 25):
                pool.submit(n)
            seen += list(pool.results())  # whatever is ready, without waiting
        seen += list(pool.results(wait=True))
    assert [value for _, value in seen] == [n * n + 7 for n in range(100)]
    pids = {pid for pid, _ in seen}
    assert (pids == {os.getpid()}) == (workers == 1)
    assert not multiprocessing.active_children()


def test_forked_map_is_the_same_on_any_number_of_processes():
    chunks = list(range(40))
    one = [value for _, value in forked_map(_square_with_pid, 1, chunks, 1)]
    two = [value for _, value in forked_map(_square_with_pid, 1, chunks, 2)]
    assert one == two == [n * n + 1 for n in chunks]
    assert not multiprocessing.active_children()


def test_a_workers_error_is_raised_here_and_the_workers_stop():
    with pytest.raises(ValueError, match="chunk 3 is bad"):
        _handed_to_the_worker(_fail_on_three, 8)
    assert not multiprocessing.active_children()


def test_an_error_that_cannot_be_pickled_arrives_as_its_traceback():
    with pytest.raises(RuntimeError, match="_Unpicklable: cannot travel"):
        _handed_to_the_worker(_fail_unpicklably, 6)
    assert not multiprocessing.active_children()


def test_a_killed_worker_is_reported_not_waited_for(monkeypatch):
    monkeypatch.setattr(parallel, "_POLL_SECONDS", 0.05)
    with pytest.raises(RuntimeError, match="stopped unexpectedly"):
        _handed_to_the_worker(_die_on_two, 6)
    assert not multiprocessing.active_children()


def test_results_left_uncollected_do_not_keep_a_worker_alive():
    with forked_workers(_square_with_pid, 0, 2) as pool:
        for n in range(50):
            pool.submit(n)
    assert not multiprocessing.active_children()


def _stored(engine):
    with session_factory(engine)() as session:
        pairs = sorted(session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.score, MatchPair.band,
                                              MatchPair.explanation)).all())
        keys = sorted(session.execute(select(MatchKey.designation_id, MatchKey.key)).all())
        states = sorted(session.execute(select(MatchState.designation_id, MatchState.candidates)).all())
        members = sorted(session.execute(select(TargetMember.target_id, TargetMember.designation_key)).all())
    return pairs, keys, states, members


def test_a_forked_full_match_stores_what_one_process_does(engine, monkeypatch):
    """The samples are too few to fork for: the thresholds are lowered, and the search
    made to hand over small steps, so that workers score while keys are still written."""
    import_samples(engine)
    monkeypatch.setattr(matching, "PARALLEL_MIN_RECORDS", 0)
    monkeypatch.setattr(matching, "SCORE_BATCH", 7)
    monkeypatch.setattr(matching, "search_candidates", partial(search_candidates, chunk=13))
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "1")
    single = pipeline.match(engine, full=True)
    one = _stored(engine)
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "2")
    forked = pipeline.match(engine, full=True)
    two = _stored(engine)
    assert forked.candidates == single.candidates > 100 and forked.linked == single.linked > 10
    assert two == one
    assert not multiprocessing.active_children()

