"""API token use cases, including the bootstrap admin token."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from herald.access.roles import Principal, Role
from herald.domain.errors import Conflict, InvalidInput, StoreConflict
from herald.domain.ids import new_id
from herald.runtime.clock import Clock
from herald.store import audit_repo as audit
from herald.store import project_repo
from herald.store import token_repo as repo
from herald.store.db import Database
from herald.store.token_repo import TokenRow

__all__ = ["IssuedToken", "TokenRow", "TokenService", "describe", "generate_token"]

TOKEN_PREFIX = "hrld_"  # noqa: S105 - a public marker that makes leaked tokens greppable
BOOTSTRAP_NAME = "bootstrap-admin"
USE_RECORD_INTERVAL = 60.0


def describe(row: TokenRow) -> dict[str, Any]:
    """A token as the API and the audit log show it: never the token or its hash."""
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "projects": list(row.projects),
        "prefix": row.prefix,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def _principal(found: repo.ActiveToken | None) -> Principal | None:
    if found is None:
        return None
    return Principal(found.id, found.name, Role(found.role), found.projects)


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedToken:
    id: str
    token: str


class TokenService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._last_noted: dict[str, float] = {}

    def authenticate(self, token: str) -> Principal | None:
        with self.db.read() as conn:
            principal = _principal(repo.active_token(conn, token))
        if principal is not None:
            self._note_use(principal.token_id)
        return principal

    def _note_use(self, token_id: str) -> None:
        """Record `last_used_at`, at most once a minute per token, not a write per request."""
        now = time.monotonic()
        if now - self._last_noted.get(token_id, -USE_RECORD_INTERVAL) < USE_RECORD_INTERVAL:
            return
        self._last_noted[token_id] = now
        with self.db.transaction() as uow:
            repo.touch(uow.conn, token_id, self.clock.now())

    def create(
        self, name: str, role: Role, projects: Sequence[str], actor: Principal | None
    ) -> IssuedToken:
        if role is Role.ADMIN and projects:
            raise InvalidInput("admin tokens cover every project; leave projects empty")
        if role is not Role.ADMIN and not projects:
            raise InvalidInput(f"a {role.value} token needs at least one project in projects")
        token, token_id = generate_token(), new_id()
        with self.db.transaction() as uow:
            for project_id in projects:
                project_repo.get_project(uow.conn, project_id)
            repo.insert_token(
                uow.conn,
                token_id=token_id,
                name=name,
                role=role,
                projects=list(projects),
                token=token,
                created_by=actor.token_id if actor else None,
                now=self.clock.now(),
            )
            self._audit(uow.conn, actor, "token.create", token_id, None)
        return IssuedToken(token_id, token)

    def _audit(
        self, conn: Any, actor: Principal | None, action: str, token_id: str, before: Any
    ) -> None:
        row = repo.get_token(conn, token_id)
        audit.record(
            conn,
            actor,
            action=action,
            resource_type="token",
            resource_id=token_id,
            project_id=None,
            before=before,
            after=describe(row),
            at=self.clock.now(),
        )

    def list(self, include_revoked: bool = False) -> list[TokenRow]:
        with self.db.read() as conn:
            return repo.list_tokens(conn, include_revoked)

    def get(self, token_id: str) -> TokenRow:
        with self.db.read() as conn:
            return repo.get_token(conn, token_id)

    def revoke(self, token_id: str, actor: Principal | None) -> None:
        """Revoke the token (revoking a revoked token changes nothing). The last active admin
        token is never revoked (`Conflict`): nobody could manage tokens or projects any more."""
        with self.db.transaction() as uow:
            row = repo.get_token(uow.conn, token_id)
            before = describe(row)
            if row.revoked_at is None and repo.active_ids_with_role(uow.conn, Role.ADMIN) == [
                token_id
            ]:
                raise Conflict(
                    f"token {row.name!r} is the last active admin token; revoking it would lock "
                    "everyone out of administration. Create another admin token first, then "
                    "revoke this one",
                    {"token_id": token_id},
                )
            repo.revoke(uow.conn, token_id, self.clock.now())
            self._audit(uow.conn, actor, "token.revoke", token_id, before)

    def ensure_bootstrap_admin(self, configured: str | None) -> str | None:
        """Make the bootstrap admin token usable; return a newly generated one to print once.

        A configured `HERALD_ADMIN_TOKEN` replaces whatever bootstrap token was stored before.
        Without one, a token is generated only if no bootstrap admin exists yet. Replicas
        starting together may race to insert the same token; the loser finds it in place.
        """
        try:
            return self._ensure_bootstrap_admin(configured)
        except StoreConflict:
            return self._ensure_bootstrap_admin(configured)

    def _ensure_bootstrap_admin(self, configured: str | None) -> str | None:
        with self.db.transaction() as uow:
            if configured:
                principal = _principal(repo.active_token(uow.conn, configured))
                if principal is not None and principal.name != BOOTSTRAP_NAME:
                    raise InvalidInput(
                        f"HERALD_ADMIN_TOKEN is already the token named {principal.name!r}; "
                        "choose a different value"
                    )
                if principal is None:
                    repo.revoke_named(uow.conn, BOOTSTRAP_NAME, self.clock.now())
                    self._insert_bootstrap(uow.conn, configured)
                return None
            if repo.has_active(uow.conn, BOOTSTRAP_NAME, Role.ADMIN):
                return None
            token = generate_token()
            self._insert_bootstrap(uow.conn, token)
            return token

    def _insert_bootstrap(self, conn: Any, token: str) -> None:
        repo.insert_token(
            conn,
            token_id=new_id(),
            name=BOOTSTRAP_NAME,
            role=Role.ADMIN,
            projects=[],
            token=token,
            created_by=None,
            now=self.clock.now(),
        )
