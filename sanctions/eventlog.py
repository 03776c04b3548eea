"""Structured log lines on stderr: one event per line, logfmt or JSON.

The nightly job runs unattended; its log is read by people after the fact
and by log shippers, so every line carries a UTC time, a level, an event
name and key=value fields (``source=un outcome=imported added=3``), never
prose that a parser would have to guess at.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any, TextIO

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _logfmt_value(value: Any) -> str:
    text = "" if value is None else str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


class EventLog:
    """Writes ``event(name, **fields)`` lines to a stream (stderr by default)."""

    def __init__(self, fmt: str = "logfmt", level: str = "info", stream: TextIO | None = None):
        if fmt not in ("logfmt", "json"):
            raise ValueError(f"log format must be logfmt or json, not {fmt!r}")
        if level not in LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
        self.fmt, self.threshold, self.stream = fmt, LEVELS[level], stream

    def event(self, name: str, level: str = "info", **fields: Any) -> None:
        if LEVELS[level] < self.threshold:
            return
        at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record = {"ts": at, "level": level, "event": name, **{k: v for k, v in fields.items() if v is not None}}
        if self.fmt == "json":
            line = json.dumps(record, ensure_ascii=False, default=str)
        else:
            line = " ".join(f"{k}={_logfmt_value(v)}" for k, v in record.items())
        stream = self.stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()


def quiet() -> EventLog:
    """A log that writes nothing (for callers that only want the result)."""
    return EventLog(level="error", stream=_Null())


class _Null:
    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass
