"""initial schema: designations, their parts, history and import runs

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 16:55:45.149360
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=True),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('parsed', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('amended', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Integer(), nullable=False),
    sa.Column('relisted', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('warning_count', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_run_source'), ['source'], unique=False)

    op.create_table('designation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('jurisdiction', sa.String(length=4), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('listed_on', sa.Date(), nullable=True),
    sa.Column('updated_on', sa.Date(), nullable=True),
    sa.Column('programmes', sa.JSON(), nullable=False),
    sa.Column('regimes', sa.JSON(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('position', sa.Text(), nullable=True),
    sa.Column('gender', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('removed_on', sa.Date(), nullable=True),
    sa.Column('removed_run_id', sa.Integer(), nullable=True),
    sa.Column('first_run_id', sa.Integer(), nullable=False),
    sa.Column('changed_run_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['changed_run_id'], ['import_run.id'], ),
    sa.ForeignKeyConstraint(['first_run_id'], ['import_run.id'], ),
    sa.ForeignKeyConstraint(['removed_run_id'], ['import_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('designation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designation_jurisdiction'), ['jurisdiction'], unique=False)
        batch_op.create_index(batch_op.f('ix_designation_source'), ['source'], unique=False)
        batch_op.create_index('ix_designation_source_status', ['source', 'status'], unique=False)

    op.create_table('designation_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('designation_address', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designation_address_designation_id'), ['designation_id'], unique=False)

    op.create_table('designation_birth_date',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('earliest', sa.Date(), nullable=True),
    sa.Column('latest', sa.Date(), nullable=True),
    sa.Column('precision', sa.String(length=8), nullable=False),
    sa.Column('circa', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('designation_birth_date', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designation_birth_date_designation_id'), ['designation_id'], unique=False)

    op.create_table('designation_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('change', sa.String(length=8), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['import_run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('designation_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designation_change_designation_id'), ['designation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_designation_change_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_designation_change_run_id'), ['run_id'], unique=False)

    op.create_table('designation_country',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=2), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('designation_country', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designation_country_designation_id'), ['designation_id'], unique=False)

    op.create_table('designation_identifier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('normalized', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('designation_identifier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designation_identifier_designation_id'), ['designation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_designation_identifier_normalized'), ['normalized'], unique=False)

    op.create_table('designation_name',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('full', sa.Text(), nullable=False),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('script', sa.String(length=4), nullable=False),
    sa.Column('language', sa.String(length=32), nullable=True),
    sa.Column('parts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('designation_name', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designation_name_designation_id'), ['designation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('designation_name', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designation_name_designation_id'))

    op.drop_table('designation_name')
    with op.batch_alter_table('designation_identifier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designation_identifier_normalized'))
        batch_op.drop_index(batch_op.f('ix_designation_identifier_designation_id'))

    op.drop_table('designation_identifier')
    with op.batch_alter_table('designation_country', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designation_country_designation_id'))

    op.drop_table('designation_country')
    with op.batch_alter_table('designation_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designation_change_run_id'))
        batch_op.drop_index(batch_op.f('ix_designation_change_key'))
        batch_op.drop_index(batch_op.f('ix_designation_change_designation_id'))

    op.drop_table('designation_change')
    with op.batch_alter_table('designation_birth_date', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designation_birth_date_designation_id'))

    op.drop_table('designation_birth_date')
    with op.batch_alter_table('designation_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designation_address_designation_id'))

    op.drop_table('designation_address')
    with op.batch_alter_table('designation', schema=None) as batch_op:
        batch_op.drop_index('ix_designation_source_status')
        batch_op.drop_index(batch_op.f('ix_designation_source'))
        batch_op.drop_index(batch_op.f('ix_designation_jurisdiction'))

    op.drop_table('designation')
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_run_source'))

    op.drop_table('import_run')
