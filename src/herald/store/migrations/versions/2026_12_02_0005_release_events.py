"""Release events beyond the PRD: multi-step canaries announce each step once.

`events.occurrence` tells apart the events of one task and type that may repeat (a canary_step's
step index; 0 for every other type), and the once-only constraint becomes (task, type,
occurrence): existing events all get 0, so nothing they guaranteed changes. `tasks.canary_steps`
holds a multi-step canary's steps.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("occurrence", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.drop_constraint("uq_events_task_id_event_type", type_="unique")
        batch_op.create_unique_constraint(
            "uq_events_task_id_event_type_occurrence", ["task_id", "event_type", "occurrence"]
        )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canary_steps", sa.JSON(), nullable=True))
    # Step events a downgrade kept as `canary_step_<index>` become step events again.
    restore = sa.text(
        "UPDATE events SET event_type = 'canary_step', occurrence = :index WHERE event_type = :kept"
    )
    for index in range(1, 21):
        op.get_bind().execute(restore, {"index": index, "kept": f"canary_step_{index}"})


def downgrade() -> None:
    # Step events cannot share a type under the old constraint; keep them (deliveries and
    # history point at them) under a type of their own per step.
    op.execute(
        "UPDATE events SET event_type = event_type || '_' || CAST(occurrence AS VARCHAR(8)) "
        "WHERE occurrence > 0"
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("canary_steps")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_events_task_id_event_type_occurrence", type_="unique")
        batch_op.create_unique_constraint("uq_events_task_id_event_type", ["task_id", "event_type"])
        batch_op.drop_column("occurrence")
