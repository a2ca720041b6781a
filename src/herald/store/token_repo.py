"""API tokens, stored as SHA-256 hashes: the plaintext exists only in the creation response.

Tokens are 32 random bytes, so a fast hash is enough (there is nothing to brute-force); lookup is
by hash, so verification takes one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, fields

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.errors import NotFound
from herald.store.tables import api_tokens


@dataclass(frozen=True)
class ActiveToken:
    """An unrevoked token as authentication needs it (`herald.access` turns it into a
    `Principal`)."""

    id: str
    name: str
    role: str
    projects: frozenset[str]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def insert_token(
    conn: Connection,
    *,
    token_id: str,
    name: str,
    role: str,
    projects: list[str],
    token: str,
    created_by: str | None,
    now: dt.datetime,
) -> None:
    conn.execute(
        api_tokens.insert().values(
            id=token_id,
            name=name,
            role=str(role),
            projects=sorted(projects),
            token_hash=token_hash(token),
            prefix=token[:12],
            created_by=created_by,
            created_at=now,
        )
    )


def active_token(conn: Connection, token: str) -> ActiveToken | None:
    row = conn.execute(
        sa.select(api_tokens).where(
            api_tokens.c.token_hash == token_hash(token), api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return ActiveToken(row.id, row.name, row.role, frozenset(row.projects))


def touch(conn: Connection, token_id: str, now: dt.datetime) -> None:
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=now))


@dataclass(frozen=True)
class TokenRow:
    """A token as listings show it: never the token or its hash."""

    id: str
    name: str
    role: str
    projects: list[str]
    prefix: str
    created_by: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


_LISTED = [api_tokens.c[f.name] for f in fields(TokenRow)]


def list_tokens(conn: Connection, include_revoked: bool) -> list[TokenRow]:
    query = sa.select(*_LISTED).order_by(api_tokens.c.created_at, api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return [TokenRow(**row._mapping) for row in conn.execute(query)]


def get_token(conn: Connection, token_id: str) -> TokenRow:
    row = conn.execute(sa.select(*_LISTED).where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    return TokenRow(**row._mapping)


def revoke(conn: Connection, token_id: str, now: dt.datetime) -> None:
    get_token(conn, token_id)
    conn.execute(
        api_tokens.update()
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def active_ids_with_role(conn: Connection, role: str) -> list[str]:
    """The active tokens of `role`, locked on PostgreSQL until the transaction ends: two admins
    revoking each other at once then see each other's revocation (the later one waits)."""
    query = sa.select(api_tokens.c.id).where(
        api_tokens.c.role == str(role), api_tokens.c.revoked_at.is_(None)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return [r.id for r in conn.execute(query)]


def has_active(conn: Connection, name: str, role: str) -> bool:
    query = sa.select(api_tokens.c.id).where(
        api_tokens.c.name == name,
        api_tokens.c.role == str(role),
        api_tokens.c.revoked_at.is_(None),
    )
    return conn.execute(query).first() is not None


def revoke_named(conn: Connection, name: str, now: dt.datetime) -> None:
    conn.execute(
        api_tokens.update()
        .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
