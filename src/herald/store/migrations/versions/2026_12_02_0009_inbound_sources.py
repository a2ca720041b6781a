"""Inbound webhooks: per-project sources (kind, encrypted secret) and the log of every request
received for them.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_sources",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_inbound_sources_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_sources"),
        sa.UniqueConstraint("project_id", "name", name="uq_inbound_sources_project_id_name"),
    )
    op.create_table(
        "inbound_deliveries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("platform_event", sa.String(64), nullable=True),
        sa.Column("delivery_key", sa.String(200), nullable=True),
        sa.Column("event_type", sa.String(32), nullable=True),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["inbound_sources.id"],
            name="fk_inbound_deliveries_source_id_inbound_sources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_deliveries"),
    )
    op.create_index("ix_inbound_deliveries_source_id_id", "inbound_deliveries", ["source_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_deliveries_source_id_id", table_name="inbound_deliveries")
    op.drop_table("inbound_deliveries")
    op.drop_table("inbound_sources")
