"""Downloading: retries with backoff, no retry where it cannot help, the size limit, 304, the archive."""
from __future__ import annotations

import json

import pytest

from sanctions import archive, fetch
from tests.publisher import Publisher

DATA = b"<CONSOLIDATED_LIST>" + b"x" * 5000 + b"</CONSOLIDATED_LIST>"


def test_retries_with_backoff_then_success(tmp_path):
    waits, retries = [], []
    with Publisher() as publisher:
        publisher.publish("/list.xml", DATA)
        publisher.fail_next("/list.xml", "500", "500")
        got = fetch.fetch(publisher.url("/list.xml"), tmp_path, fetch.Limits(retries=3, backoff=1.5),
                          sleep=waits.append, on_retry=lambda n, problem, delay: retries.append((n, problem)))
    assert got.status == 200 and got.attempts == 3
    assert waits == [1.5, 3.0]  # doubled each time
    assert retries == [(1, "HTTP 500 Internal Server Error"), (2, "HTTP 500 Internal Server Error")]
    assert got.path.read_bytes() == DATA and got.path.parent == archive.folder(tmp_path, got.sha256)


def test_gives_up_after_the_retries(tmp_path):
    with Publisher() as publisher:
        publisher.publish("/list.xml", DATA)
        publisher.fail_next("/list.xml", "500", "500", "500")
        with pytest.raises(fetch.FetchError) as failure:
            fetch.fetch(publisher.url("/list.xml"), tmp_path, fetch.Limits(retries=2), sleep=lambda s: None)
    assert failure.value.attempts == 3 and failure.value.http_status == 500
    assert str(failure.value).endswith("download failed (after 3 attempts): HTTP 500 Internal Server Error")


def test_size_limit_is_not_retried(tmp_path):
    with Publisher() as publisher:
        publisher.publish("/list.xml", DATA)
        with pytest.raises(fetch.FetchError, match="the file is 5,039 bytes, over the limit of 1,000 bytes"):
            fetch.fetch(publisher.url("/list.xml"), tmp_path, fetch.Limits(max_bytes=1000), sleep=pytest.fail)
        assert publisher.statuses("/list.xml") == [200]
    assert not list((tmp_path / "tmp").iterdir())


def test_cannot_connect(tmp_path):
    with Publisher() as publisher:
        url = publisher.url("/list.xml")
    with pytest.raises(fetch.FetchError, match="cannot connect"):
        fetch.fetch(url, tmp_path, fetch.Limits(retries=1), sleep=lambda s: None)


def test_conditional_request_and_one_copy_per_content(tmp_path):
    with Publisher() as publisher:
        publisher.publish("/a/list.xml", DATA)
        publisher.publish("/b/list.xml", DATA)
        first = fetch.fetch(publisher.url("/a/list.xml"), tmp_path)
        again = fetch.fetch(publisher.url("/a/list.xml"), tmp_path, etag=first.etag)
        mirror = fetch.fetch(publisher.url("/b/list.xml"), tmp_path)
        by_date = fetch.fetch(publisher.url("/b/list.xml"), tmp_path, last_modified=mirror.last_modified)
    assert again.status == 304 and again.path is None
    assert by_date.status == 304
    assert mirror.path == first.path  # the same bytes are archived once
    fetches = json.loads((first.path.parent / "fetches.json").read_text())
    assert [f["url"].split("/")[-2] for f in fetches] == ["a", "b"]
    assert fetches[0]["headers"]["etag"] == first.etag and fetches[0]["fetched_at"].endswith("Z")
    assert archive.resolve(tmp_path, first.sha256[:12]) == first.path
    with pytest.raises(archive.ArchiveError, match="no archived file"):
        archive.resolve(tmp_path, "0" * 64)
