"""API tokens (admin only): create (the token is shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from herald.api.deps import ContainerDep, PrincipalDep
from herald.api.schemas.common_schemas import ERRORS
from herald.api.schemas.token_schemas import TokenCreate, TokenCreated, TokenOut, WhoAmI

router = APIRouter(tags=["tokens"], responses=ERRORS)


def token_out(row: Any) -> TokenOut:
    return TokenOut(
        id=row.id,
        name=row.name,
        role=row.role,
        projects=list(row.projects),
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


@router.post("/tokens", status_code=status.HTTP_201_CREATED, summary="Create an API token")
def create_token(body: TokenCreate, principal: PrincipalDep, c: ContainerDep) -> TokenCreated:
    principal.require_admin()
    issued = c.tokens.create(body.name, body.role, body.projects, principal)
    return TokenCreated(**token_out(c.tokens.get(issued.id)).model_dump(), token=issued.token)


@router.get("/tokens", summary="List API tokens")
def list_tokens(
    principal: PrincipalDep, c: ContainerDep, include_revoked: bool = False
) -> list[TokenOut]:
    principal.require_admin()
    return [token_out(r) for r in c.tokens.list(include_revoked)]


@router.delete(
    "/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API token"
)
def revoke_token(token_id: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    principal.require_admin()
    c.tokens.revoke(token_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="The calling token: name, role and projects")
def whoami(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(
        token_id=principal.token_id,
        name=principal.name,
        role=principal.role,
        projects=sorted(principal.projects),
    )
