"""requests filed as tracker issues; a tracker per team

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 23:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issue_project', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('issue_ref', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('issue_label', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('issue_link', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_requests_issue_ref'), ['issue_ref'], unique=False)
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tracker', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('tracker')
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_requests_issue_ref'))
        batch_op.drop_column('issue_link')
        batch_op.drop_column('issue_label')
        batch_op.drop_column('issue_ref')
        batch_op.drop_column('issue_project')
