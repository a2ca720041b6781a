"""Callback configs and channels, deliveries with their attempts (history), delivery targets
(shared rate-limit and circuit state), cached WeCom access tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 12:29:54.948591
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON()


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("config_id", sa.String(length=36), nullable=False),
        sa.Column("channel_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("channel_type", sa.String(length=16), nullable=False),
        sa.Column("target_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=10), server_default="scheduled", nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_code", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("digest_id", sa.String(length=36), nullable=True),
        sa.Column("digest_size", sa.Integer(), nullable=True),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "event_id", "channel_id", name=op.f("uq_deliveries_event_id_channel_id")
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_config_id_id"), ["config_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deliveries_digest_id"), ["digest_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deliveries_project_id_id"), ["project_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deliveries_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_deliveries_target_key_status"), ["target_key", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deliveries_task_id"), ["task_id"], unique=False)

    op.create_table(
        "targets",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("channel_type", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sends", JSON, nullable=False),
        sa.Column("penalty_until", sa.Float(), nullable=True),
        sa.Column("circuit", sa.String(length=10), server_default="closed", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cooldown", sa.Float(), server_default="0", nullable=False),
        sa.Column("probe_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_targets")),
    )
    op.create_table(
        "wecom_tokens",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("secret_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_wecom_tokens")),
    )
    op.create_table(
        "callback_configs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("templates", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_callback_configs_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_configs")),
    )
    with op.batch_alter_table("callback_configs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_configs_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("config_id", sa.String(length=36), nullable=False),
        sa.Column("channel_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("channel_type", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("platform_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_attempts_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_delivery_attempts_delivery_id_attempt"),
            ["delivery_id", "attempt"],
            unique=False,
        )

    op.create_table(
        "callback_channels",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("config_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_config", sa.Text(), nullable=False),
        sa.Column("target_key", sa.String(length=64), nullable=False),
        sa.Column("rate_limit", JSON, nullable=True),
        sa.Column("policy", JSON, nullable=True),
        sa.Column("templates", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["callback_configs.id"],
            name=op.f("fk_callback_channels_config_id_callback_configs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_channels")),
    )
    with op.batch_alter_table("callback_channels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_channels_config_id"), ["config_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_channels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_channels_config_id"))

    op.drop_table("callback_channels")
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_delivery_id_attempt"))
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_created_at"))

    op.drop_table("delivery_attempts")
    with op.batch_alter_table("callback_configs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_configs_project_id"))

    op.drop_table("callback_configs")
    op.drop_table("wecom_tokens")
    op.drop_table("targets")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_task_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_target_key_status"))
        batch_op.drop_index(batch_op.f("ix_deliveries_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_deliveries_project_id_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_digest_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_config_id_id"))

    op.drop_table("deliveries")
