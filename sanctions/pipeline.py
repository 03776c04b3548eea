"""The one pipeline: import -> match -> cluster -> gaps, in that order.

The CLI, the nightly refresh and the web all run the stages through here;
no stage calls the next one itself.  Each stage is a plain function in its
own module (``imports``, ``matching``, ``gaps``); this module only orders them.
"""
from __future__ import annotations

from sqlalchemy import Engine

from sanctions import imports, matching
from sanctions.models import ImportRun, MatchRun


def import_source(engine: Engine, source: str, location: str, **options) -> ImportRun:
    """Stage 1: one publication into the store (see ``imports.run_import`` for the options)."""
    return imports.run_import(engine, source, location, **options)


def match(engine: Engine, full: bool = False) -> MatchRun:
    """Stages 2-4: score what changed, re-cluster into targets, open and close gaps."""
    return matching.run_match(engine, full=full)
