"""gaps, append-only audit log, re-review flag on pair decisions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 17:27:49.095035
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('gap',
    sa.Column('id', sa.String(length=250), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('designated_by', sa.String(length=4), nullable=False),
    sa.Column('not_by', sa.String(length=4), nullable=False),
    sa.Column('anchor_key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('closed_reason', sa.String(length=32), nullable=True),
    sa.Column('closed_run_id', sa.Integer(), nullable=True),
    sa.Column('disposition', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('material_hash', sa.String(length=64), nullable=True),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['closed_run_id'], ['import_run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gap', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gap_anchor_key'), ['anchor_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_gap_designated_by'), ['designated_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_gap_not_by'), ['not_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_gap_state'), ['state'], unique=False)

    with op.batch_alter_table('pair_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs_review', sa.Boolean(), nullable=False, server_default=sa.false()))

    # The audit log is append-only: the database itself refuses updates and deletes.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    with op.batch_alter_table('pair_decision', schema=None) as batch_op:
        batch_op.drop_column('needs_review')

    with op.batch_alter_table('gap', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gap_state'))
        batch_op.drop_index(batch_op.f('ix_gap_not_by'))
        batch_op.drop_index(batch_op.f('ix_gap_designated_by'))
        batch_op.drop_index(batch_op.f('ix_gap_anchor_key'))

    op.drop_table('gap')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
