"""API tokens (admin only): create (the token is shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from herald.access.token_service import TokenRow
from herald.api.deps import ContainerDep, PrincipalDep
from herald.api.schemas.common_schemas import ERRORS
from herald.api.schemas.token_schemas import TokenCreate, TokenCreated, TokenOut, WhoAmI

router = APIRouter(tags=["tokens"], responses=ERRORS)


def token_out(row: TokenRow) -> TokenOut:
    return TokenOut.model_validate(row, from_attributes=True)


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
