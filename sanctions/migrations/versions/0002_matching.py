"""matching: runs, state, blocking keys, pairs, clusters, pair decisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:20:17.147644
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_member',
    sa.Column('designation_key', sa.String(length=200), nullable=False),
    sa.Column('cluster_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('designation_key')
    )
    with op.batch_alter_table('cluster_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_member_cluster_id'), ['cluster_id'], unique=False)

    op.create_table('match_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('designations', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('candidates', sa.Integer(), nullable=False),
    sa.Column('linked', sa.Integer(), nullable=False),
    sa.Column('review', sa.Integer(), nullable=False),
    sa.Column('clusters', sa.Integer(), nullable=False),
    sa.Column('high', sa.Double(), nullable=False),
    sa.Column('low', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('pair_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_a', sa.String(length=200), nullable=False),
    sa.Column('key_b', sa.String(length=200), nullable=False),
    sa.Column('decision', sa.String(length=12), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('hash_a', sa.String(length=64), nullable=True),
    sa.Column('hash_b', sa.String(length=64), nullable=True),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pair_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pair_decision_key_a'), ['key_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_pair_decision_key_b'), ['key_b'], unique=False)

    op.create_table('match_pair',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_a', sa.String(length=200), nullable=False),
    sa.Column('key_b', sa.String(length=200), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('strength', sa.Double(), nullable=False),
    sa.Column('band', sa.String(length=8), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['match_run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('match_pair', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_pair_key_a'), ['key_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_pair_key_b'), ['key_b'], unique=False)
        batch_op.create_index('ux_match_pair_keys', ['key_a', 'key_b'], unique=True)

    op.create_table('match_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('match_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_key_designation_id'), ['designation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_key_key'), ['key'], unique=False)

    op.create_table('match_state',
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('designation_id')
    )


def downgrade() -> None:
    op.drop_table('match_state')
    with op.batch_alter_table('match_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_key_key'))
        batch_op.drop_index(batch_op.f('ix_match_key_designation_id'))

    op.drop_table('match_key')
    with op.batch_alter_table('match_pair', schema=None) as batch_op:
        batch_op.drop_index('ux_match_pair_keys')
        batch_op.drop_index(batch_op.f('ix_match_pair_key_b'))
        batch_op.drop_index(batch_op.f('ix_match_pair_key_a'))

    op.drop_table('match_pair')
    with op.batch_alter_table('pair_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pair_decision_key_b'))
        batch_op.drop_index(batch_op.f('ix_pair_decision_key_a'))

    op.drop_table('pair_decision')
    op.drop_table('match_run')
    with op.batch_alter_table('cluster_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_member_cluster_id'))

    op.drop_table('cluster_member')
