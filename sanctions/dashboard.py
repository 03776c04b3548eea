"""The workspace dashboard's figures: source freshness, what the last imports changed, gap flow, queues.

Read-only, a handful of aggregate queries (no per-row work), shared by
``/dashboard`` and ``/api/dashboard``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanctions import queries
from sanctions.models import Gap, MatchPair, PairDecision

# A source whose last good publication is older than this stands out as stale.
STALE_AFTER_DAYS = 14


def dashboard(session: Session, today: dt.date | None = None) -> dict[str, Any]:
    today = today or dt.date.today()
    week_ago = today - dt.timedelta(days=7)
    sources = []
    for row in queries.sources_summary(session):
        last, good = row["last_run"], row["last_good_run"]
        published = dt.date.fromisoformat(row["published_on"]) if row["published_on"] else None
        if last is None:
            state = "never imported"
        elif last["status"] in ("failed", "refused"):
            state = "failed"
        elif published and (today - published).days > STALE_AFTER_DAYS:
            state = "stale"
        else:
            state = "fresh"
        sources.append({**row, "state": state,
                        "age_days": (today - published).days if published else None,
                        "changes": good["counts"] if good else None})
    opened = session.scalar(select(func.count()).select_from(Gap).where(Gap.opened_on >= week_ago))
    closed = session.scalar(select(func.count()).select_from(Gap).where(Gap.closed_on >= week_ago))
    open_gaps = session.scalar(select(func.count()).select_from(Gap).where(Gap.state == "open",
                                                                           Gap.kind == "missing"))
    undecided = session.scalar(select(func.count()).select_from(Gap).where(Gap.state == "open",
                                                                           Gap.disposition == "open"))
    under_review = session.scalar(select(func.count()).select_from(Gap).where(Gap.state == "open",
                                                                              Gap.disposition == "under-review"))
    review_pairs = session.scalar(select(func.count()).select_from(MatchPair).where(
        MatchPair.band == "review",
        ~select(PairDecision.id).where(PairDecision.current.is_(True), PairDecision.key_a == MatchPair.key_a,
                                       PairDecision.key_b == MatchPair.key_b).exists()))
    flagged_gaps = session.scalar(select(func.count()).select_from(Gap).where(Gap.needs_review.is_(True)))
    flagged_pairs = session.scalar(select(func.count()).select_from(PairDecision).where(
        PairDecision.current.is_(True), PairDecision.needs_review.is_(True)))
    return {
        "today": today.isoformat(), "stale_after_days": STALE_AFTER_DAYS, "sources": sources,
        "gaps_last_7_days": {"opened": opened, "closed": closed},
        "queues": {"open_gaps": open_gaps, "gaps_undecided": undecided, "gaps_under_review": under_review,
                   "pairs_to_review": review_pairs, "gaps_flagged_for_re_review": flagged_gaps,
                   "pair_decisions_flagged_for_re_review": flagged_pairs},
    }
