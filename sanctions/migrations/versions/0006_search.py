"""text search indexes for the web (issue 10)

The search index (``sanctions.search_index``): ``search_entry`` holds each
designation's folded names and compact identifiers, ``search_pending`` the
designations whose names or identifiers changed since they were indexed
(filled by triggers, emptied by the session commit hook).  SQLite searches it
with an FTS5 trigram table kept in step by triggers; PostgreSQL with a
``pg_trgm`` GIN index (the extension is created if missing: PostgreSQL 13+
lets a database owner do that; see the README for production).

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

QUEUED_TABLES = ("designation_name", "designation_identifier")


def upgrade() -> None:
    op.create_table(
        "search_entry",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("designation_id", sa.Integer, sa.ForeignKey("designation.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("field", sa.String(10), nullable=False),   # name, identifier, link
        sa.Column("kind", sa.String(32), nullable=False),    # name type (primary, alias, weak, fka) or identifier type
        sa.Column("text", sa.Text, nullable=False),          # folded name / compact identifier
        sa.Column("label", sa.Text, nullable=False),         # as published, for "why it matched"
    )
    # Equality look-ups: a relation's name to the targets that bear it, and back.
    op.create_index("ix_search_entry_text", "search_entry", ["text"])
    op.create_table("search_pending", sa.Column("designation_id", sa.Integer, primary_key=True))
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _sqlite()
    else:
        _postgresql(conn)
    # Index what earlier revisions stored (a no-op on a new database).
    from sanctions import search_index
    search_index.rebuild(conn)


def _sqlite() -> None:
    op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(text, content='search_entry', content_rowid='id', "
               "tokenize='trigram')")
    op.execute("CREATE TRIGGER search_entry_ai AFTER INSERT ON search_entry BEGIN "
               "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END")
    op.execute("CREATE TRIGGER search_entry_ad AFTER DELETE ON search_entry BEGIN "
               "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); END")
    for table in QUEUED_TABLES:
        op.execute(f"CREATE TRIGGER {table}_search_ai AFTER INSERT ON {table} BEGIN "
                   "INSERT OR IGNORE INTO search_pending VALUES (new.designation_id); END")
        op.execute(f"CREATE TRIGGER {table}_search_ad AFTER DELETE ON {table} BEGIN "
                   "INSERT OR IGNORE INTO search_pending VALUES (old.designation_id); END")


def _postgresql(conn) -> None:
    schema = conn.execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'")).scalar()
    if schema is None:
        # In public, not the current schema: the extension is shared by the whole database.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        schema = "public"
    op.execute(f"CREATE INDEX ix_search_entry_trgm ON search_entry USING gin (text {schema}.gin_trgm_ops)")
    op.execute("""
        CREATE FUNCTION search_queue() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO search_pending VALUES (OLD.designation_id) ON CONFLICT DO NOTHING;
                RETURN OLD;
            END IF;
            INSERT INTO search_pending VALUES (NEW.designation_id) ON CONFLICT DO NOTHING;
            RETURN NEW;
        END $$""")
    for table in QUEUED_TABLES:
        op.execute(f"CREATE TRIGGER {table}_search AFTER INSERT OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION search_queue()")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for table in QUEUED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_ai")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_ad")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        for table in QUEUED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search ON {table}")
        op.execute("DROP FUNCTION IF EXISTS search_queue()")
    op.drop_table("search_pending")
    op.drop_table("search_entry")
