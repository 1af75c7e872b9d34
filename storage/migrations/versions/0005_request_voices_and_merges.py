"""request voices ("me too") and merged requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 20:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('request_voices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('user_team', sa.String(length=200), nullable=True),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.Column('merged_from', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'tenant', 'number', 'user_id')
    )
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into', sa.Integer(), nullable=True))


def downgrade() -> None:
    # The code before this revision knows no 'merged' state: a merged request reads as withdrawn.
    op.execute("UPDATE requests SET state = 'withdrawn' WHERE state = 'merged'")
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_column('merged_into')
    op.drop_table('request_voices')
