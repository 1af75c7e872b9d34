"""visibility, source messages, outsiders, standup participation, blocker history

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('blocker_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('blocker_events', schema=None) as batch_op:
        batch_op.create_index('ix_blocker_events_blocker', ['platform', 'tenant', 'number', 'at'], unique=False)
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outsider', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('standup', sa.Boolean(), nullable=True))
    with op.batch_alter_table('blockers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('message_id', sa.String(length=256), nullable=True))
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('answer_messages', sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
        batch_op.add_column(sa.Column('problem_unclear', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_column('problem_unclear')
        batch_op.drop_column('answer_messages')
        batch_op.drop_column('private')
    with op.batch_alter_table('blockers', schema=None) as batch_op:
        batch_op.drop_column('message_id')
        batch_op.drop_column('private')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('standup')
        batch_op.drop_column('outsider')
    with op.batch_alter_table('blocker_events', schema=None) as batch_op:
        batch_op.drop_index('ix_blocker_events_blocker')
    op.drop_table('blocker_events')
