"""Downloading one publication: timeouts, retries with backoff, conditional requests, a size limit.

Publishers' servers fail in ordinary ways (a 503 during a deployment, a
connection dropped half-way, a slow response); the nightly job retries what
may succeed on a second attempt and gives up at once on what will not (a
404, a file past the size limit).  The body is streamed to a temp file in
the archive folder while its SHA-256 is computed, then moved into the
archive (``sanctions.archive``), so a file there is always whole.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sanctions import archive

CHUNK = 1 << 20
# Worth another attempt: the server may be back in a moment.
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Limits:
    timeout: float = 60.0
    retries: int = 3
    backoff: float = 2.0
    max_bytes: int = 300_000_000
    user_agent: str = "sanctions-registry refresh"


@dataclass
class Fetched:
    """A finished fetch: HTTP 200 with an archived file, or 304 (nothing new)."""

    url: str
    status: int
    attempts: int
    headers: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    sha256: str | None = None
    size: int | None = None

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


class FetchError(Exception):
    """The download failed for good; the message says why and after how many attempts."""

    def __init__(self, url: str, problem: str, attempts: int, http_status: int | None = None):
        self.url, self.problem, self.attempts, self.http_status = url, problem, attempts, http_status
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        super().__init__(f"{url}: download failed{tries}: {problem}")


class _Retry(Exception):
    def __init__(self, problem: str, http_status: int | None = None):
        super().__init__(problem)
        self.problem, self.http_status = problem, http_status


class _GiveUp(_Retry):
    pass


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _file_name(url: str) -> str:
    return os.path.basename(urllib.parse.urlparse(url).path) or "download"


def _attempt(url: str, limits: Limits, request_headers: dict[str, str], temp_dir: Path):
    """One GET: (status, headers, temp file, sha256, size) or raises _Retry/_GiveUp."""
    request = urllib.request.Request(url, headers=request_headers)
    try:
        response = urllib.request.urlopen(request, timeout=limits.timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304:
            return 304, {k.lower(): v for k, v in exc.headers.items()}, None, None, None
        problem = f"HTTP {exc.code} {exc.reason}"
        raise (_Retry if exc.code in RETRY_STATUSES else _GiveUp)(problem, exc.code) from None
    except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise _Retry(f"no response within {limits.timeout:g} s") from None
        raise _Retry(f"cannot connect: {reason}") from None
    with response:
        headers = {k.lower(): v for k, v in response.headers.items()}
        declared = headers.get("content-length")
        expected = int(declared) if declared and declared.isdigit() else None
        if expected is not None and expected > limits.max_bytes:
            raise _GiveUp(f"the file is {expected:,} bytes, over the limit of {limits.max_bytes:,} bytes", 200)
        digest = hashlib.sha256()
        size = 0
        handle = tempfile.NamedTemporaryFile(dir=temp_dir, prefix=".download-", delete=False)
        temp = Path(handle.name)
        try:
            with handle:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (TimeoutError, socket.timeout):
                        raise _Retry(f"the server stopped sending after {size:,} bytes "
                                     f"(no data for {limits.timeout:g} s)") from None
                    except (http.client.IncompleteRead, ConnectionError, OSError) as exc:
                        raise _Retry(f"the connection broke after {size:,} bytes ({type(exc).__name__})") from None
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limits.max_bytes:
                        raise _GiveUp(f"the file exceeds the limit of {limits.max_bytes:,} bytes", 200)
                    digest.update(chunk)
                    handle.write(chunk)
            if expected is not None and size < expected:
                raise _Retry(f"truncated download: received {size:,} of {expected:,} bytes")
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return response.status, headers, temp, digest.hexdigest(), size


def fetch(url: str, archive_dir: str | Path, limits: Limits = Limits(), *, etag: str | None = None,
          last_modified: str | None = None, sleep: Callable[[float], None] = time.sleep,
          on_retry: Callable[[int, str, float], None] | None = None) -> Fetched:
    """Download ``url`` into the archive; a 304 (given ``etag``/``last_modified``) returns no file."""
    headers = {"User-Agent": limits.user_agent, "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    temp_dir = Path(archive_dir) / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    attempts = 0
    while True:
        attempts += 1
        started = _now()
        try:
            status, response_headers, temp, sha, size = _attempt(url, limits, headers, temp_dir)
        except _GiveUp as exc:
            raise FetchError(url, exc.problem, attempts, exc.http_status) from None
        except _Retry as exc:
            if attempts > limits.retries:
                raise FetchError(url, exc.problem, attempts, exc.http_status) from None
            delay = limits.backoff * 2 ** (attempts - 1)
            if on_retry:
                on_retry(attempts, exc.problem, delay)
            sleep(delay)
            continue
        if status == 304:
            return Fetched(url, 304, attempts, response_headers)
        meta: dict[str, Any] = {"url": url, "fetched_at": started, "status": status, "headers": response_headers,
                                "size": size}
        path = archive.store(archive_dir, temp, sha, _file_name(url), meta)
        return Fetched(url, status, attempts, response_headers, path, sha, size)
