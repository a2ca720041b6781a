"""API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from herald.access.roles import Role
from herald.api.schemas.common_schemas import Name, ResourceId, Strict


class TokenCreate(Strict):
    name: Name
    role: Role
    projects: Annotated[list[ResourceId], Field(max_length=500)] = Field(default_factory=list)


class TokenOut(BaseModel):
    id: str
    name: str
    role: Role
    projects: list[str]
    prefix: str = Field(description="the token's first characters, to recognise it")
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the token itself; shown only in this response")


class WhoAmI(BaseModel):
    token_id: str
    name: str
    role: Role
    projects: list[str] = Field(description="empty for admin tokens, which cover every project")
