"""users, roles, tokens and versioned decisions (issue 11)

- ``app_user`` and ``api_token``: the officers' workspace accounts (argon2 hashes,
  SHA-256 of tokens; neither a password nor a token is ever stored).
- ``gap.version``: bumped by every disposition, so a stale change is refused.
- ``pair_decision.supersedes``: the decision a new one replaced, unique per pair,
  so two concurrent replacements of the same decision cannot both be stored.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("failed_signins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_failed_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("gap") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    with op.batch_alter_table("pair_decision") as batch_op:
        batch_op.add_column(sa.Column("supersedes", sa.Integer, nullable=False, server_default="0"))
    # Existing decisions: each replaced the one before it on the same pair.
    op.execute("UPDATE pair_decision SET supersedes = COALESCE((SELECT MAX(p.id) FROM pair_decision p "
               "WHERE p.key_a = pair_decision.key_a AND p.key_b = pair_decision.key_b "
               "AND p.id < pair_decision.id), 0)")
    op.create_index("ux_pair_decision_supersedes", "pair_decision", ["key_a", "key_b", "supersedes"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_pair_decision_supersedes", table_name="pair_decision")
    with op.batch_alter_table("pair_decision") as batch_op:
        batch_op.drop_column("supersedes")
    with op.batch_alter_table("gap") as batch_op:
        batch_op.drop_column("version")
    op.drop_table("api_token")
    op.drop_table("app_user")
