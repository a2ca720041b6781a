"""Delivery order: every event gets its ordinal within its task (`seq`), copied onto its
deliveries so a destination receives one task's notifications in event order; attempts may
carry a note (an earlier notification of the task failed for good before this one was sent).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")
FAILED = sa.text("status = 'failed'")
LEASED = sa.text("lease_owner IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
    # Existing events: their ordinal by time within the task.
    op.execute(
        "UPDATE events SET seq = (SELECT count(*) FROM events AS e2 "
        "WHERE e2.task_id = events.task_id AND (e2.created_at < events.created_at "
        "OR (e2.created_at = events.created_at AND e2.id <= events.id)))"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE deliveries SET seq = (SELECT seq FROM events WHERE events.id = deliveries.event_id) "
        "WHERE event_id IS NOT NULL"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_order",
            ["target_key", "task_id", "seq"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )
        batch_op.create_index(
            "ix_deliveries_leased",
            ["target_key"],
            unique=False,
            postgresql_where=LEASED,
            sqlite_where=LEASED,
        )
        batch_op.create_index(
            "ix_deliveries_failed_task",
            ["task_id"],
            unique=False,
            postgresql_where=FAILED,
            sqlite_where=FAILED,
        )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_column("note")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_failed_task")
        batch_op.drop_index("ix_deliveries_leased")
        batch_op.drop_index("ix_deliveries_order")
        batch_op.drop_column("seq")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("seq")
