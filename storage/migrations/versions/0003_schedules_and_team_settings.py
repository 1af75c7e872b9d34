"""schedules and team settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 05:28:04.974768
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('schedule_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('recipient', sa.String(length=256), nullable=False),
    sa.Column('period', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'tenant', 'kind', 'recipient', 'period')
    )
    with op.batch_alter_table('schedule_runs', schema=None) as batch_op:
        batch_op.create_index('ix_schedule_runs_recipient', ['platform', 'tenant', 'kind', 'recipient', 'at'], unique=False)

    op.create_table('scheduler_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_tick_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('cron', sa.String(length=120), nullable=False),
    sa.Column('tz', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=256), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'tenant', 'kind')
    )
    with op.batch_alter_table('teams', schema=None) as batch_op:
        # Existing teams get no holidays and the default escalation age.
        batch_op.add_column(sa.Column('holidays', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('escalate_after_days', sa.Double(), nullable=False, server_default=sa.text('2')))



def downgrade() -> None:
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('escalate_after_days')
        batch_op.drop_column('holidays')

    op.drop_table('schedules')
    op.drop_table('scheduler_state')
    with op.batch_alter_table('schedule_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_schedule_runs_recipient')

    op.drop_table('schedule_runs')
