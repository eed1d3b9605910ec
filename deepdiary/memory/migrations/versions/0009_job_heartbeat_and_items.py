"""job heartbeat and job items

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:30:00.000000

Jobs that Celery workers carry (``DEEPDIARY_BROKER_URL``): a heartbeat the workers refresh,
so a job is not taken for dead because the process that opened it has exited, and one row
per item task, settled in the transaction that commits the item's results.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_items',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['ingest_jobs.id'], ),
    sa.PrimaryKeyConstraint('job_id', 'item_id')
    )
    with op.batch_alter_table('ingest_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # As in 0005: batch mode would rebuild ingest_jobs, which the foreign keys forbid.
        op.execute("ALTER TABLE ingest_jobs DROP COLUMN heartbeat_at")
    else:
        with op.batch_alter_table('ingest_jobs', schema=None) as batch_op:
            batch_op.drop_column('heartbeat_at')
    op.drop_table('job_items')
