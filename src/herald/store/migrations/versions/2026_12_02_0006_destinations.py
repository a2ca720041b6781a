"""Reusable destinations and organisation-wide rules: a `destinations` table (one channel
instance, its settings encrypted as callback channels' are), channels that reference one,
callback configs without a project (organisation rules selecting projects by label) and
project labels. Existing rows keep their meaning: every config keeps its project, every
channel its inline settings, every project gets no labels.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON()


def upgrade() -> None:
    op.create_table(
        "destinations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("secret_config", sa.Text(), nullable=False),
        sa.Column("target_key", sa.String(length=64), nullable=False),
        sa.Column("rate_limit", JSON, nullable=True),
        sa.Column("policy", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_destinations_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destinations")),
    )
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_destinations_project_id"), ["project_id"], unique=False
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("labels", JSON, server_default="{}", nullable=False))
    with op.batch_alter_table("callback_configs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_labels", JSON, nullable=True))
        batch_op.alter_column("project_id", existing_type=sa.String(length=36), nullable=True)
    with op.batch_alter_table("callback_channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("destination_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_callback_channels_destination_id"), ["destination_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_callback_channels_destination_id_destinations"),
            "destinations",
            ["destination_id"],
            ["id"],
        )


def downgrade() -> None:
    # Organisation rules and references have no place in the older schema: they go.
    op.execute(
        "DELETE FROM callback_channels WHERE destination_id IS NOT NULL OR config_id IN "
        "(SELECT id FROM callback_configs WHERE project_id IS NULL)"
    )
    op.execute("DELETE FROM callback_configs WHERE project_id IS NULL")
    with op.batch_alter_table("callback_channels", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_callback_channels_destination_id_destinations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_callback_channels_destination_id"))
        batch_op.drop_column("destination_id")
    with op.batch_alter_table("callback_configs", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_column("project_labels")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("labels")
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_destinations_project_id"))
    op.drop_table("destinations")
