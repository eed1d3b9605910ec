"""face quality

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:00:00.000000

Each face gets the quality score of its size, sharpness and pose (0 to 1). Faces below
the threshold never start a person on their own. Faces stored before have none (NULL)
and count as good, as they were clustered.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('faces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quality', sa.Float(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # A batch rebuild of faces would trip over the foreign keys that point at it;
        # SQLite (3.35+) drops a plain column in place.
        op.execute("ALTER TABLE faces DROP COLUMN quality")
    else:
        with op.batch_alter_table('faces', schema=None) as batch_op:
            batch_op.drop_column('quality')
