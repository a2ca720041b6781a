"""Names, external runs and idempotency: a task's release context and external run id (unique
within its project), free-form environments up to 64 characters, a project's allowed
environments, the external events already applied per task, and idempotency keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("run_id", sa.String(length=128), nullable=True))
        batch_op.alter_column(
            "environment", existing_type=sa.String(length=16), type_=sa.String(length=64)
        )
        batch_op.create_unique_constraint(
            op.f("uq_tasks_project_id_run_id"), ["project_id", "run_id"]
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("environments", sa.JSON(), server_default="[]", nullable=False)
        )
    op.create_table(
        "external_events",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("event_key", sa.String(length=48), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_external_events_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("task_id", "event_key", name=op.f("pk_external_events")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("lease_until", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("external_events")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("environments")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_tasks_project_id_run_id"), type_="unique")
        batch_op.alter_column(
            "environment", existing_type=sa.String(length=64), type_=sa.String(length=16)
        )
        batch_op.drop_column("run_id")
        batch_op.drop_column("context")
