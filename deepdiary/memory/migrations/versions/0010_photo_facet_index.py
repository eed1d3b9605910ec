"""an index for faceted photo search in date order

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:55:00.000000

A faceted search walks the photos by date and tests place, rating and position on each one
until its page is full; with these columns in the index the walk never reads a row.
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_items_photo_facets', 'items',
                    ['kind', 'taken_at', 'id', 'place_id', 'rating', 'lat', 'lon'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_items_photo_facets', table_name='items')
