"""match run configuration and matcher features (issue 7, 9)

Revision ID: 0009
Revises: 0008
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The configuration a match run used, and its hash, so that a result can be reproduced.
    with op.batch_alter_table("match_run") as batch:
        batch.add_column(sa.Column("config", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("config_hash", sa.String(64), nullable=True))
    # Each designation's own best candidates (designation ids, space-separated): an incremental
    # match needs to know which unchanged records had a changed one among theirs.
    with op.batch_alter_table("match_state") as batch:
        batch.add_column(sa.Column("candidates", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("match_state") as batch:
        batch.drop_column("candidates")
    with op.batch_alter_table("match_run") as batch:
        batch.drop_column("config_hash")
        batch.drop_column("config")
