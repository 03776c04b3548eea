"""Forked workers (``matchers.parallel``): order, failures, and a full match that forks.

A full match builds features on the workers, then hands them pairs while it is
still searching for more and writing keys, so these check what the store must
never see: results out of order, records built differently, a worker's error
lost or turned into a hang, a worker left running.

The failing functions fail only in a forked worker (``state`` is the pid of
the test's process).  The first ``IN_FLIGHT`` chunks go to the one worker as
they are submitted, so a failure planted in chunk 1 always happens there.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from matchers.candidates import Candidates, TokenStats, candidate_pairs, search_candidates
from matchers.features import content_features
from matchers.parallel import WorkerFailed, forked_map, forked_workers
from sanctions import matching, pipeline
from sanctions.config import MatchingConfig
from sanctions.db import session_factory
from sanctions.models import Designation, MatchKey, MatchPair, MatchState, TargetMember
from tests.test_matching import import_samples


def _square_with_pid(state: int, chunk: int) -> tuple[int, int]:
    return os.getpid(), chunk * chunk + state


def _fail_on_one(state: int, chunk: int) -> int:
    if chunk == 1 and os.getpid() != state:
        raise ValueError(f"chunk {chunk} is bad")
    return chunk


class _Unpicklable(Exception):
    def __init__(self):
        super().__init__("cannot travel")
        self.lock = threading.Lock()  # a lock cannot be pickled


def _fail_unpicklably(state: int, chunk: int) -> int:
    if chunk == 1 and os.getpid() != state:
        raise _Unpicklable()
    return chunk


def _return_a_lock(state: int, chunk: int):
    return threading.Lock() if chunk == 1 and os.getpid() != state else chunk


def _die_on_one(state: int, chunk: int) -> int:
    if chunk == 1 and os.getpid() != state:
        os.kill(os.getpid(), signal.SIGKILL)
    return chunk


def _big(state: int, chunk: int) -> bytes:
    return bytes(300_000)  # more than a pipe holds: the worker's sender blocks until read


def _all_results(function, chunks: int = 6) -> list:
    with forked_workers(function, os.getpid(), 2) as pool:
        for n in range(chunks):
            pool.submit(n)
        return list(pool.results(wait=True))


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
    if workers == 1:
        assert pids == {os.getpid()}
    else:  # the first chunks go to the workers as they are submitted
        assert len(pids - {os.getpid()}) == workers - 1
    assert not multiprocessing.active_children()


def test_a_backlog_is_done_here_as_chunks_are_submitted():
    """A caller reading as it submits (a full match loading features) never holds more
    than ``backlog`` chunks unread: the rest are done in this process at once."""
    with forked_workers(_square_with_pid, 0, 2) as pool:
        seen = []
        for n in range(60):
            pool.submit(n)
            seen += list(pool.results(backlog=0))
            assert not pool.waiting
        seen += list(pool.results(wait=True))
    assert [value for _, value in seen] == [n * n for n in range(60)]
    assert os.getpid() in {pid for pid, _ in seen}  # this process did some


def _wait_for_file(path: str, chunk: bytes) -> int:
    if os.getpid() != int(Path(path).stem):
        while not Path(path).exists():
            time.sleep(0.01)
    return len(chunk)


def test_a_chunk_larger_than_a_pipe_holds_is_taken_while_the_worker_is_busy(tmp_path):
    """Handing over a large chunk must not wait for the worker to finish the chunk before
    (it would keep this process idle): the worker takes chunks off its pipe as they come."""
    go = tmp_path / f"{os.getpid()}.go"
    with forked_workers(_wait_for_file, str(go), 2) as pool:
        pool.submit(b"small")  # the worker holds this one until the file exists
        handing = threading.Thread(target=pool.submit, args=(bytes(4_000_000),))
        handing.start()
        handing.join(30)  # a hang detector, not a timing: it blocks for good without the receiver
        submitted = not handing.is_alive()
        go.touch()
        handing.join()
        assert list(pool.results(wait=True)) == [5, 4_000_000]
    assert submitted, "handing over the large chunk waited for the worker's previous chunk"


def test_forked_map_is_the_same_on_any_number_of_processes():
    chunks = list(range(40))
    one = list(forked_map(_square_with_pid, 1, chunks, 1))
    two = list(forked_map(_square_with_pid, 1, chunks, 2))
    assert [v for _, v in one] == [v for _, v in two] == [n * n + 1 for n in chunks]
    assert {pid for pid, _ in two} - {os.getpid()}  # a worker did some
    assert not multiprocessing.active_children()


def test_a_workers_error_is_raised_here_with_its_traceback_and_the_workers_stop():
    with pytest.raises(ValueError, match="chunk 1 is bad") as raised:
        _all_results(_fail_on_one)
    assert any("in a forked worker" in note and "_fail_on_one" in note for note in raised.value.__notes__)
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("function, error, message", [
    (_fail_unpicklably, RuntimeError, "_Unpicklable: cannot travel"),  # arrives as its traceback
    (_return_a_lock, TypeError, "cannot pickle"),                      # an error, not a hang
    (_die_on_one, WorkerFailed, "stopped unexpectedly"),               # reported, not waited for
])
def test_what_cannot_come_back_from_a_worker_is_an_error(function, error, message):
    with pytest.raises(error, match=message):
        _all_results(function)
    assert not multiprocessing.active_children()


def _unreadable_in_a_worker(parent: int):
    if os.getpid() != parent:
        raise ValueError("this chunk cannot be read here")
    return "read"


class _Unreadable:
    """A chunk that pickles, but cannot be unpickled in a worker."""

    def __reduce__(self):
        return _unreadable_in_a_worker, (os.getpid(),)


def test_a_chunk_a_worker_cannot_read_is_an_error_here():
    with pytest.raises(ValueError, match="cannot be read here") as caught:
        with forked_workers(_square_with_pid, 0, 2) as pool:
            pool.submit(_Unreadable())
            list(pool.results(wait=True))
    assert "in a forked worker" in "".join(getattr(caught.value, "__notes__", []))
    assert not multiprocessing.active_children()


def test_an_error_here_stops_the_workers_even_with_results_in_their_pipes():
    with pytest.raises(KeyError):
        with forked_workers(_big, 0, 2) as pool:
            for n in range(10):
                pool.submit(n)
            raise KeyError("the caller failed")
    assert not multiprocessing.active_children()


def test_results_left_uncollected_are_an_error_and_stop_the_workers():
    with pytest.raises(RuntimeError, match="10 results were never collected"):
        with forked_workers(_big, 0, 2) as pool:
            for n in range(10):
                pool.submit(n)
    assert not multiprocessing.active_children()


def test_a_worker_exits_when_its_parent_dies(tmp_path):
    """The parent is killed while its worker waits for a chunk: the worker must not stay
    (it would hold copies of the parent's lock files and database connections)."""
    script = tmp_path / "parent.py"
    pid_file = tmp_path / "worker.pid"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from matchers.parallel import forked_workers\n"
        "def pid(state, chunk):\n"
        "    return os.getpid()\n"
        "with forked_workers(pid, None, 2) as pool:\n"
        "    pool.submit(0)\n"
        "    worker = next(iter(pool.results(wait=True)))\n"
        f"    open({str(pid_file)!r}, 'w').write(str(worker))\n"
        "    pool.submit(1)\n"
        "    list(pool.results(wait=True))\n"
        "    os.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, str(script)], check=False)
    worker = int(pid_file.read_text())
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its parent")


def _real_sample_records(engine):
    with session_factory(engine)() as session:
        rows = session.execute(select(Designation.content).order_by(Designation.key)).scalars().all()
    return [content_features(content) for content in rows]


@pytest.mark.parametrize("chunk", [1, 13, 100_000])
def test_the_search_in_steps_finds_each_pair_once_as_at_once(engine, chunk):
    import_samples(engine)
    records = _real_sample_records(engine)
    config = MatchingConfig()
    stats = TokenStats.build(records, config)
    at_once = candidate_pairs(records, stats, config)
    found = Candidates(set(), len(records), {}, {})
    steps = list(search_candidates(records, stats, config, found, chunk=chunk))
    handed = [code for _, _, codes in steps for code in codes]
    assert len(handed) == len(set(handed)) == len(at_once.codes) > 100
    assert set(handed) == at_once.codes and found.best == at_once.best
    assert [(start, stop) for start, stop, _ in steps[1:]] == \
        [(s, min(s + chunk, len(records))) for s in range(0, len(records), chunk)]
    with pytest.raises(ValueError, match="empty Candidates"):
        next(search_candidates(records, stats, config, found))


_FEATURES_OF = matching._features_of


def _marked(folder: Path, function, state, chunk):
    """``function(state, chunk)``, leaving a file named after the process that ran it."""
    (folder / str(os.getpid())).touch()
    return function(state, chunk)


def test_features_built_on_two_processes_are_those_of_one(engine, monkeypatch, tmp_path):
    """A full match loads the records' features on several processes: the same records, in key order."""
    import_samples(engine)
    builders = tmp_path / "builders"
    builders.mkdir()
    monkeypatch.setattr(matching, "PARALLEL_MIN_RECORDS", 0)
    monkeypatch.setattr(matching, "FEATURES_CHUNK", 5)
    monkeypatch.setattr(matching, "_features_of", partial(_marked, builders, matching._features_of))
    with session_factory(engine)() as session:
        one = matching._load(session)
        two = matching._load(session, workers=2)
    assert {p.name for p in builders.iterdir()} - {str(os.getpid())}  # a worker built some of them
    assert len(one) > 100 and two == one  # the same records, in the same (key) order
    # Records that came back pickled share words and country sets as records built here do
    # (``one``, built here, has interned every word: an uninterned copy is not that object).
    assert all(t is sys.intern(t) for item in two for name in item.record.names for t in name.tokens)
    for a, b in zip(one, two):
        assert a.record.nationalities is b.record.nationalities
        assert a.record.address_countries is b.record.address_countries
        assert a.record.name_countries is b.record.name_countries
        assert (a.record.identifiers is b.record.identifiers) == (not a.record.identifiers)
    assert not multiprocessing.active_children()


def _failing_in_a_worker(parent: int, state, rows):
    if os.getpid() != parent:
        raise ValueError("features cannot be built")
    return _FEATURES_OF(state, rows)


def test_a_full_match_whose_features_fail_in_a_worker_leaves_the_store_and_no_worker(engine, monkeypatch):
    import_samples(engine)
    pipeline.match(engine)
    before = _stored(engine)
    _forking_in_small_steps(monkeypatch)
    monkeypatch.setattr(matching, "_features_of", partial(_failing_in_a_worker, os.getpid()))
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "2")
    with pytest.raises(ValueError, match="features cannot be built") as caught:
        pipeline.match(engine, full=True)
    assert "in a forked worker" in "".join(getattr(caught.value, "__notes__", []))
    assert _stored(engine) == before
    assert not multiprocessing.active_children()


def _stored(engine):
    with session_factory(engine)() as session:
        pairs = session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.score, MatchPair.band,
                                       MatchPair.explanation).order_by(MatchPair.id)).all()
        keys = session.execute(select(MatchKey.designation_id, MatchKey.key).order_by(MatchKey.id)).all()
        states = sorted(session.execute(select(MatchState.designation_id, MatchState.candidates)).all())
        members = sorted(session.execute(select(TargetMember.target_id, TargetMember.designation_key)).all())
    return pairs, keys, states, members


def _forking_in_small_steps(monkeypatch) -> None:
    """The samples are too few to fork for: the threshold is lowered, and the search made
    to hand over small steps, so that workers score while keys are still written."""
    monkeypatch.setattr(matching, "PARALLEL_MIN_RECORDS", 0)
    monkeypatch.setattr(matching, "FEATURES_CHUNK", 5)
    monkeypatch.setattr(matching, "SCORE_BATCH", 7)
    monkeypatch.setattr(matching, "search_candidates", partial(search_candidates, chunk=13))


def test_a_forked_full_match_stores_what_one_process_does(engine, monkeypatch, tmp_path):
    """The rows must be stored in the same order too (compared by id)."""
    import_samples(engine)
    scorers = tmp_path / "scorers"
    scorers.mkdir()
    _forking_in_small_steps(monkeypatch)
    monkeypatch.setattr(matching, "_score_batch", partial(_marked, scorers, matching._score_batch))
    builders = tmp_path / "builders"
    builders.mkdir()
    monkeypatch.setattr(matching, "_features_of", partial(_marked, builders, matching._features_of))
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "1")
    single = pipeline.match(engine, full=True)
    one = _stored(engine)
    assert {p.name for p in scorers.iterdir()} == {str(os.getpid())}
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "2")
    forked = pipeline.match(engine, full=True)
    two = _stored(engine)
    assert len(list(scorers.iterdir())) == 2  # a worker scored some of the pairs
    assert {p.name for p in builders.iterdir()} - {str(os.getpid())}  # and built some of the features
    assert forked.candidates == single.candidates > 100 and forked.linked == single.linked > 10
    assert two == one
    assert not multiprocessing.active_children()


def test_a_full_match_failing_midway_leaves_the_store_and_no_worker_behind(engine, monkeypatch):
    """A failure after the workers have scored some pairs and some keys are written: the
    whole match rolls back (pairs, keys and states as before), and no worker or writer
    thread is left running."""
    import_samples(engine)
    pipeline.match(engine)
    before = _stored(engine)
    _forking_in_small_steps(monkeypatch)
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "2")
    write_keys, steps = matching._write_keys, []

    def failing_on_the_fifth_step(*args, **kwargs):
        steps.append(1)
        if len(steps) == 5:
            raise OSError("disk full")
        return write_keys(*args, **kwargs)

    monkeypatch.setattr(matching, "_write_keys", failing_on_the_fifth_step)
    threads = set(threading.enumerate())
    with pytest.raises(OSError, match="disk full"):
        pipeline.match(engine, full=True)
    assert _stored(engine) == before
    assert not multiprocessing.active_children()
    assert set(threading.enumerate()) <= threads
