"""Reusable destinations and organisation-wide rules: a `destinations` table (one channel
instance, its settings encrypted as callback channels' are), channels that reference one,
callback configs without a project (organisation rules selecting projects by label) and
project labels. Existing rows keep their meaning: every config keeps its project, every
channel its inline settings, every project gets no labels.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON()


def _set_channels_aside() -> bool:
    """SQLite rebuilds a table to change a column's nullability, and dropping the old
    callback_configs while channels point at it breaks their foreign key (checked with
    `foreign_keys=ON`, and not repaired by the rename). So the channels wait in a side table."""
    if op.get_bind().dialect.name != "sqlite":
        return False
    op.execute("CREATE TABLE _channels_aside AS SELECT * FROM callback_channels")
    op.execute("DELETE FROM callback_channels")
    return True


def _bring_channels_back() -> None:
    # The columns both schemas have; a new column is NULL for channels kept from before.
    op.execute(
        "INSERT INTO callback_channels (id, config_id, position, type, enabled, secret_config, "
        "target_key, rate_limit, policy, templates, created_at, updated_at) "
        "SELECT id, config_id, position, type, enabled, secret_config, target_key, rate_limit, "
        "policy, templates, created_at, updated_at FROM _channels_aside"
    )
    op.execute("DROP TABLE _channels_aside")


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
    aside = _set_channels_aside()
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
    if aside:
        _bring_channels_back()


def downgrade() -> None:
    # Organisation rules and references have no place in the older schema: they go.
    op.execute(
        "DELETE FROM callback_channels WHERE destination_id IS NOT NULL OR config_id IN "
        "(SELECT id FROM callback_configs WHERE project_id IS NULL)"
    )
    op.execute("DELETE FROM callback_configs WHERE project_id IS NULL")
    aside = _set_channels_aside()
    with op.batch_alter_table("callback_channels", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_callback_channels_destination_id_destinations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_callback_channels_destination_id"))
        batch_op.drop_column("destination_id")
    with op.batch_alter_table("callback_configs", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_column("project_labels")
    if aside:
        _bring_channels_back()
    # Natively (SQLite 3.35+): a rebuilt projects table would break every row pointing at it.
    op.execute("ALTER TABLE projects DROP COLUMN labels")
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_destinations_project_id"))
    op.drop_table("destinations")
