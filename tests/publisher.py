"""A fake publisher: a local HTTP server on 127.0.0.1 serving list files like the real ones do.

It answers with ETag and Last-Modified, honours If-None-Match /
If-Modified-Since with 304, and can be told to misbehave on the next
requests for a path: ``404``, ``500``, ``hang`` (answer only after the
client's timeout), ``truncate`` (promise the whole file, send half, close),
``no-length`` (no Content-Length header).
Every request is logged with the status it got, so tests can check that a
second refresh downloaded nothing.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Publisher:
    def __init__(self, hang_seconds: float = 2.0):
        self.files: dict[str, bytes] = {}
        self.etags: dict[str, str] = {}
        self.modified: dict[str, str] = {}
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.requests: list[tuple[str, int]] = []
        self.hang_seconds = hang_seconds
        self.hanging = threading.Event()  # set when a "hang" fault starts: a client is now waiting on us
        self._version = 0
        self._lock = threading.Lock()
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                publisher._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Publisher":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def publish(self, path: str, data: bytes) -> None:
        """Put (a new edition of) a file online, with a new ETag and Last-Modified."""
        with self._lock:
            self._version += 1
            self.files[path] = data
            self.etags[path] = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            self.modified[path] = formatdate(1_700_000_000 + self._version * 86400, usegmt=True)

    def fail_next(self, path: str, *faults: str) -> None:
        self.faults[path].extend(faults)

    def statuses(self, path: str) -> list[int]:
        return [status for p, status in self.requests if p == path]

    def _log(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, status))

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            fault = self.faults[path].pop(0) if self.faults[path] else None
        if fault in ("404", "500"):
            self._log(path, int(fault))
            handler.send_error(int(fault))
            return
        if fault == "hang":
            self.hanging.set()
            time.sleep(self.hang_seconds)
        if path not in self.files:
            self._log(path, 404)
            handler.send_error(404)
            return
        data, etag, modified = self.files[path], self.etags[path], self.modified[path]
        if handler.headers.get("If-None-Match") == etag or (
                handler.headers.get("If-None-Match") is None and handler.headers.get("If-Modified-Since") == modified):
            self._log(path, 304)
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        self._log(path, 200)
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/xml")
            if fault != "no-length":  # "no-length": the body simply runs until the connection closes
                handler.send_header("Content-Length", str(len(data)))
            handler.send_header("ETag", etag)
            handler.send_header("Last-Modified", modified)
            handler.end_headers()
            if fault == "truncate":
                handler.wfile.write(data[: len(data) // 2])
                handler.wfile.flush()
                handler.close_connection = True
                return
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass
