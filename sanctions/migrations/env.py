"""Alembic environment: runs on the connection that ``sanctions.db.upgrade`` hands over."""
from alembic import context

from sanctions.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through sanctions.db.upgrade(), which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
