"""Reading the audit log (it is written by each use case, in the transaction of its change)."""

from __future__ import annotations

from herald.domain.filters import AuditFilter
from herald.store import audit_repo
from herald.store.audit_repo import AuditEntry
from herald.store.db import Database

__all__ = ["AuditEntry", "AuditFilter", "AuditLog"]


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def entries(self, flt: AuditFilter, *, before: str | None, limit: int) -> list[AuditEntry]:
        """Matching entries newest first, below the id `before` (a page's last) when given."""
        with self.db.read() as conn:
            return audit_repo.list_entries(conn, flt, before=before, limit=limit)
