"""persistent target ids, lineage, gaps keyed by target (issue 7)

Revision ID: 0004
Revises: 0003

What it does to a stored registry, in order:

1. Canada keys take their spacing-proof form (``ca:belarus/1,part-3/2`` becomes
   ``ca:belarus/1-part-3/2``) everywhere a key is stored, except the append-only
   ``audit_log``, whose rows are never rewritten.  The designation's content
   carries its key, so its content hash is recomputed the way the store computed it.
2. Every designation gets a stored target: a cluster keeps its id of before
   (``T`` + sha1 of its smallest key), a designation on its own gets ``T`` + sha1
   of its key.  ``cluster_member`` gives way to ``target`` / ``target_member``.
3. Gaps are re-keyed by target (``<A>-<B>:<target id>``).  Where two stored gaps
   land on one id (the old bug: a gap closed as "target-changed" and reopened
   under another anchor key), the open one is kept and an officer's disposition
   left behind on the other is carried over and flagged for re-review.  Every
   old id is kept in ``gap_former_id``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# A copy of importers.ca_sema's rule as it was when this migration was written:
# a migration must do the same thing whenever it runs.
_SEPARATORS = re.compile(r"[\s,-]+")


def normalise_key(key: str) -> str:
    if not key.startswith("ca:") or key.count("/") < 2:
        return key
    regime, schedule, item = key[3:].split("/", 2)
    regime = _SEPARATORS.sub("-", regime.strip().lower()).strip("-")
    schedule = _SEPARATORS.sub("-", schedule.strip().lower()).strip("-")
    return f"ca:{regime}/{schedule}/{item.strip()}"


def _target_id(key: str) -> str:
    return "T" + hashlib.sha1(key.encode()).hexdigest()[:12]


def _load_json(value):
    return json.loads(value) if isinstance(value, str) else value


def _rekey_ca(conn) -> dict[str, str]:
    """Rewrite Canada keys in every table that stores one; returns old -> new for the keys that changed."""
    rows = conn.execute(sa.text("SELECT id, key, content, raw FROM designation WHERE key LIKE 'ca:%'")).all()
    renamed: dict[str, str] = {}
    for row_id, key, content, raw in rows:
        new = normalise_key(key)
        if new == key:
            continue
        renamed[key] = new
        content = _load_json(content)
        content["key"] = new
        digest = hashlib.sha256(json.dumps([content, _load_json(raw)], ensure_ascii=False,
                                           default=str).encode()).hexdigest()
        conn.execute(sa.text("UPDATE designation SET key = :k, content = :c, content_hash = :h WHERE id = :i")
                     .bindparams(sa.bindparam("c", type_=sa.JSON)),
                     {"k": new, "c": content, "h": digest, "i": row_id})
    if not renamed:
        return renamed
    for old, new in renamed.items():
        params = {"old": old, "new": new}
        conn.execute(sa.text("UPDATE designation_change SET key = :new WHERE key = :old"), params)
        conn.execute(sa.text("UPDATE cluster_member SET designation_key = :new WHERE designation_key = :old"), params)
        conn.execute(sa.text("UPDATE gap SET anchor_key = :new WHERE anchor_key = :old"), params)
        for table in ("match_pair", "pair_decision"):
            conn.execute(sa.text(f"UPDATE {table} SET key_a = :new WHERE key_a = :old"), params)
            conn.execute(sa.text(f"UPDATE {table} SET key_b = :new WHERE key_b = :old"), params)
    # Pairs are stored with key_a < key_b; a renamed key can change the order.
    for table in ("match_pair", "pair_decision"):
        for row_id, a, b in conn.execute(sa.text(f"SELECT id, key_a, key_b FROM {table} WHERE key_a > key_b")).all():
            conn.execute(sa.text(f"UPDATE {table} SET key_a = :a, key_b = :b WHERE id = :i"),
                         {"a": b, "b": a, "i": row_id})
    return renamed


def upgrade() -> None:
    conn = op.get_bind()
    _rekey_ca(conn)

    op.create_table('target',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('match_run_id', sa.Integer(), nullable=True),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['match_run_id'], ['match_run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('target_member',
    sa.Column('designation_key', sa.String(length=200), nullable=False),
    sa.Column('target_id', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['target.id'], ),
    sa.PrimaryKeyConstraint('designation_key')
    )
    with op.batch_alter_table('target_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_target_member_target_id'), ['target_id'], unique=False)
    op.create_table('target_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.String(length=16), nullable=False),
    sa.Column('other_target_id', sa.String(length=16), nullable=False),
    sa.Column('event', sa.String(length=8), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('match_run_id', sa.Integer(), nullable=True),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['match_run_id'], ['match_run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('target_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_target_event_target_id'), ['target_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_target_event_other_target_id'), ['other_target_id'], unique=False)
    op.create_table('gap_former_id',
    sa.Column('former_id', sa.String(length=250), nullable=False),
    sa.Column('gap_id', sa.String(length=250), nullable=False),
    sa.PrimaryKeyConstraint('former_id')
    )
    with op.batch_alter_table('gap_former_id', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gap_former_id_gap_id'), ['gap_id'], unique=False)
    with op.batch_alter_table('gap', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_id', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('target_kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('regimes', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('listed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('carried_from', sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column('successor_id', sa.String(length=250), nullable=True))
        batch_op.create_index(batch_op.f('ix_gap_target_id'), ['target_id'], unique=False)

    # Targets: clusters keep their ids, every other designation becomes a target of its own.
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    cluster_of = dict(conn.execute(sa.text("SELECT designation_key, cluster_id FROM cluster_member")).all())
    keys = [k for (k,) in conn.execute(sa.text("SELECT key FROM designation ORDER BY key"))]
    target_of = {k: cluster_of.get(k) or _target_id(k) for k in keys}
    target_table = sa.table('target', sa.column('id'), sa.column('created_at'))
    member_table = sa.table('target_member', sa.column('designation_key'), sa.column('target_id'))
    ids = sorted(set(target_of.values()))
    for i in range(0, len(ids), 5000):
        conn.execute(target_table.insert(), [{"id": t, "created_at": now} for t in ids[i : i + 5000]])
    members = [{"designation_key": k, "target_id": t} for k, t in target_of.items()]
    for i in range(0, len(members), 5000):
        conn.execute(member_table.insert(), members[i : i + 5000])
    with op.batch_alter_table('cluster_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_member_cluster_id'))
    op.drop_table('cluster_member')

    _rekey_gaps(conn, target_of)


_RANK = {"confirmed": 3, "dismissed": 3, "under-review": 2, "open": 1}


def _rekey_gaps(conn, target_of: dict[str, str]) -> None:
    """Gap ids by target; colliding rows fold into one without losing an officer's decision."""
    columns = ("id", "kind", "designated_by", "not_by", "anchor_key", "state", "opened_on", "closed_on",
               "closed_reason", "closed_run_id", "disposition", "reason", "material_hash", "needs_review")
    rows = [dict(zip(columns, r)) for r in conn.execute(sa.text(f"SELECT {', '.join(columns)} FROM gap")).all()]
    if not rows:
        return
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        target = target_of.get(row["anchor_key"]) or _target_id(row["anchor_key"])
        pair = f"{row['designated_by']}-{row['not_by']}"
        new_id = f"{pair}:{target}" if row["kind"] == "missing" else f"{pair}:delisted:{target}"
        row["target_id"] = target
        groups[new_id].append(row)
    conn.execute(sa.text("DELETE FROM gap"))
    gap_table = sa.table('gap', *[sa.column(c) for c in columns + ("target_id", "carried_from")])
    former = sa.table('gap_former_id', sa.column('former_id'), sa.column('gap_id'))
    audit = sa.table('audit_log', sa.column('at'), sa.column('actor'), sa.column('action'), sa.column('subject'),
                     sa.column('before', sa.JSON), sa.column('after', sa.JSON), sa.column('note'))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    new_rows, former_rows, audit_rows = [], [], []
    for new_id, group in groups.items():
        # Keep the open row (else the newest); carry the weightiest decision of the others.
        group.sort(key=lambda r: (r["state"] == "open", r["opened_on"], r["id"]), reverse=True)
        kept, others = group[0], group[1:]
        decided = max(group, key=lambda r: (_RANK.get(r["disposition"], 0), r["opened_on"]))
        row = {c: kept[c] for c in columns}
        row.update(id=new_id, target_id=kept["target_id"], carried_from=None)
        if decided is not kept and decided["disposition"] != kept["disposition"]:
            row.update(disposition=decided["disposition"], reason=decided["reason"],
                       material_hash=decided["material_hash"], needs_review=True, carried_from=decided["id"])
            audit_rows.append({"at": now, "actor": "system", "action": "gap-carried", "subject": new_id,
                               "before": {"gap": decided["id"], "disposition": decided["disposition"]},
                               "after": {"disposition": decided["disposition"], "needs_review": True},
                               "note": "gap ids now name the target (migration 0004); this decision was left "
                                       "on a gap closed when its anchor designation changed"})
        new_rows.append(row)
        # Old ids (which still carry a Canada key's original spelling) resolve to the new one.
        former_rows += [{"former_id": old["id"], "gap_id": new_id} for old in group]
    for i in range(0, len(new_rows), 5000):
        conn.execute(gap_table.insert(), new_rows[i : i + 5000])
    seen, unique_former = set(), []
    for r in former_rows:
        if r["former_id"] not in seen and r["former_id"] != r["gap_id"]:
            seen.add(r["former_id"])
            unique_former.append(r)
    for i in range(0, len(unique_former), 5000):
        conn.execute(former.insert(), unique_former[i : i + 5000])
    if audit_rows:
        conn.execute(audit.insert(), audit_rows)


def downgrade() -> None:
    raise NotImplementedError("0004 re-keys targets and gaps; restore a backup to go back")
