"""index queue and job process

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:00:00.000000

The index queue holds the messages and diary chunks whose search entries are still to
be written. Libraries made before it may hold items a killed run stored but never
indexed, and nothing tells which: every message and diary chunk is queued once, and the
next ingest (or ``reindex``) writes only the entries the text index and vectors lack.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('index_queue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('queued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('index_queue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_index_queue_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_index_queue_job_id'), ['job_id'], unique=False)

    with op.batch_alter_table('ingest_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hostname', sqlmodel.sql.sqltypes.AutoString(), nullable=True))

    op.execute(
        "INSERT INTO index_queue (item_id, job_id, queued_at) "
        "SELECT id, NULL, CURRENT_TIMESTAMP FROM items WHERE kind IN ('message', 'diary') ORDER BY id"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Batch mode would rebuild the table, which the foreign keys of ingest_errors
        # forbid; SQLite (3.35+) drops a plain column in place.
        op.execute("ALTER TABLE ingest_jobs DROP COLUMN hostname")
        op.execute("ALTER TABLE ingest_jobs DROP COLUMN pid")
    else:
        with op.batch_alter_table('ingest_jobs', schema=None) as batch_op:
            batch_op.drop_column('hostname')
            batch_op.drop_column('pid')

    with op.batch_alter_table('index_queue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_index_queue_job_id'))
        batch_op.drop_index(batch_op.f('ix_index_queue_item_id'))

    op.drop_table('index_queue')
