"""History retention: an index on deliveries' finish time, so pruning by age finds the oldest
finished deliveries in bounded batches without scanning the table.

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deliveries_finished_at", "deliveries", ["finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deliveries_finished_at", table_name="deliveries")
