"""facts and event entries

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 05:10:03.871413

Facts about people learnt from chat sessions (with the sessions read, so the learner
resumes), and the event diary's entries (the LLM's, with a fingerprint of their inputs,
or the user's own).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_entries',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('citations', sa.Text(), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('written_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('fact_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('first_item_id', sa.Integer(), nullable=False),
    sa.Column('last_item_id', sa.Integer(), nullable=False),
    sa.Column('start', sa.DateTime(), nullable=False),
    sa.Column('end', sa.DateTime(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('facts', sa.Integer(), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('learnt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'first_item_id', name='uq_fact_session')
    )
    with op.batch_alter_table('fact_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fact_sessions_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('facts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('attribute', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('value_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('message_ids', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.DateTime(), nullable=False),
    sa.Column('superseded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['fact_sessions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('facts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facts_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_facts_session_id'), ['session_id'], unique=False)
        batch_op.create_index('ix_facts_subject_current', ['subject_key', 'superseded_by'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('facts', schema=None) as batch_op:
        batch_op.drop_index('ix_facts_subject_current')
        batch_op.drop_index(batch_op.f('ix_facts_session_id'))
        batch_op.drop_index(batch_op.f('ix_facts_conversation_id'))

    op.drop_table('facts')
    with op.batch_alter_table('fact_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fact_sessions_conversation_id'))

    op.drop_table('fact_sessions')
    op.drop_table('event_entries')
