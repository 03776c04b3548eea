"""tamper-evident audit chain and other reliability changes (issue 8)

- ``audit_log.prev_hash`` / ``entry_hash`` and the one-row ``audit_head``:
  existing entries are chained in id order, so verification starts from a
  known state (the triggers that refuse updates are lifted for that only).
- PostgreSQL: TRUNCATE of the log (and of its head) is refused by a trigger.
- ``import_run.file_hashes`` (each published file's own SHA-256) and
  ``import_run.partial`` (an incomplete publication the operator accepted).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _chain_existing(bind) -> tuple[int, int, str]:
    """Chain the entries already in the log; returns (count, last id, last hash)."""
    from sanctions.audit import entry_hash  # the one definition of the hash

    log = sa.table("audit_log", sa.column("id", sa.Integer), sa.column("at", sa.DateTime),
                   sa.column("actor", sa.String), sa.column("action", sa.String), sa.column("subject", sa.Text),
                   sa.column("before", sa.JSON), sa.column("after", sa.JSON), sa.column("note", sa.Text),
                   sa.column("prev_hash", sa.String), sa.column("entry_hash", sa.String))
    prev, count, last_id = GENESIS, 0, 0
    rows = bind.execute(sa.select(log.c.id, log.c.at, log.c.actor, log.c.action, log.c.subject, log.c.before,
                                  log.c.after, log.c.note).order_by(log.c.id)).all()
    for row in rows:
        digest = entry_hash(row.id, row.at, row.actor, row.action, row.subject, row.before, row.after, row.note,
                            prev)
        bind.execute(log.update().where(log.c.id == row.id).values(prev_hash=prev, entry_hash=digest))
        prev, count, last_id = digest, count + 1, row.id
    return count, last_id, prev


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_hashes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('partial', sa.Boolean(), nullable=False, server_default=sa.false()))

    head = op.create_table('audit_head',
                           sa.Column('id', sa.Integer(), nullable=False),
                           sa.Column('entries', sa.Integer(), nullable=False),
                           sa.Column('last_id', sa.Integer(), nullable=False),
                           sa.Column('last_hash', sa.String(length=64), nullable=False),
                           sa.PrimaryKeyConstraint('id'))

    # The append-only triggers would refuse the one-off chaining of existing rows.
    if postgres:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
    count, last_id, last_hash = _chain_existing(bind)
    op.bulk_insert(head, [{"id": 1, "entries": count, "last_id": last_id, "last_hash": last_hash}])

    if postgres:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        op.execute(
            "CREATE FUNCTION audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% may not be truncated: the audit log is append-only', TG_TABLE_NAME; "
            "END; $$"
        )
        for table in ("audit_log", "audit_head"):
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate()")
        # Ids are given by sanctions.audit.append (id = last + 1, under the head's row lock).
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    # The head may only move forward by appending; it is never deleted.
    if postgres:
        op.execute(
            "CREATE FUNCTION audit_head_keep() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_head may not be deleted'; END; $$"
        )
        op.execute("CREATE TRIGGER audit_head_keep BEFORE DELETE ON audit_head "
                   "FOR EACH ROW EXECUTE FUNCTION audit_head_keep()")
    else:
        op.execute("CREATE TRIGGER audit_head_keep BEFORE DELETE ON audit_head "
                   "BEGIN SELECT RAISE(ABORT, 'audit_head may not be deleted'); END")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_head_keep ON audit_head")
        op.execute("DROP FUNCTION audit_head_keep()")
        for table in ("audit_log", "audit_head"):
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION audit_log_no_truncate()")
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    else:
        op.execute("DROP TRIGGER audit_head_keep")
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    op.drop_table('audit_head')
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.drop_column('partial')
        batch_op.drop_column('file_hashes')
