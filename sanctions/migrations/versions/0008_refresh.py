"""download archive and change reports (issue 12)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refresh",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("exit_code", sa.Integer),
        sa.Column("match_run_id", sa.Integer, sa.ForeignKey("match_run.id")),
        sa.Column("error", sa.Text),
        sa.Column("report", sa.JSON),
    )
    op.create_index("ix_refresh_started_at", "refresh", ["started_at"])
    op.create_table(
        "download",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("refresh_id", sa.Integer, sa.ForeignKey("refresh.id")),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sha256", sa.String(64)),
        sa.Column("size", sa.BigInteger),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("headers", sa.JSON),
        sa.Column("archive_path", sa.Text),
        sa.Column("import_run_id", sa.Integer, sa.ForeignKey("import_run.id")),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_download_refresh_id", "download", ["refresh_id"])
    op.create_index("ix_download_source", "download", ["source"])
    op.create_index("ix_download_sha256", "download", ["sha256"])


def downgrade() -> None:
    op.drop_table("download")
    op.drop_table("refresh")
