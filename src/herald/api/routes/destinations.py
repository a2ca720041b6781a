"""Destinations: defined once for a project (maintainers) or the organisation (admins), used by
any number of callback configs; GET of one shows its rate-limit use, circuit and last outcome."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from herald.api import unknown
from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.api.schemas.destination_schemas import (
    DestinationHealthOut,
    DestinationIn,
    DestinationOut,
    DestinationUseOut,
)
from herald.channels.channel_config import host_warnings
from herald.publishing.config_model import Destination
from herald.publishing.destination_service import (
    DestinationHealth,
    DestinationUse,
    describe_destination,
)

router = APIRouter(tags=["destinations"], responses=ERRORS)


def destination_out(
    d: Destination, uses: list[DestinationUse], health: DestinationHealth | None = None
) -> DestinationOut:
    return DestinationOut(
        **describe_destination(d),
        used_by=[DestinationUseOut.model_validate(u, from_attributes=True) for u in uses],
        warnings=host_warnings(d.config),
        health=DestinationHealthOut.model_validate(health, from_attributes=True)
        if health
        else None,
        created_at=d.created_at,
        updated_at=d.updated_at,
    )


def _page(
    c: ContainerDep, principal: PrincipalDep, found: list[Destination], limit: int
) -> Page[DestinationOut]:
    uses = c.destinations.uses([d.id for d in found])
    # An organisation destination's users span projects: name only those the caller may see.
    shown = [
        destination_out(d, [u for u in uses[d.id] if principal.can_read(u.project_id)])
        for d in found
    ]
    return make_page(shown, limit, lambda d: d.id)


@router.get("/destinations", summary="The organisation's destinations (admin)")
def list_org(principal: PrincipalDep, c: ContainerDep, paging: PagingDep) -> Page[DestinationOut]:
    principal.require_admin()
    found = c.destinations.listed(None, paging.cursor, paging.limit + 1)
    return _page(c, principal, found, paging.limit)


@router.post(
    "/destinations",
    status_code=status.HTTP_201_CREATED,
    summary="Define a destination every project may use (admin)",
)
def create_org(body: DestinationIn, principal: PrincipalDep, c: ContainerDep) -> DestinationOut:
    principal.require_admin()
    return destination_out(c.destinations.create(None, body, principal), [])


@router.get(
    "/projects/{project_id}/destinations",
    summary="The project's destinations (with include_org, also the organisation's it may use)",
)
def list_project(
    project_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    paging: PagingDep,
    include_org: bool = False,
) -> Page[DestinationOut]:
    principal.require_read(project_id, unknown.project(project_id))
    found = c.destinations.listed(project_id, paging.cursor, paging.limit + 1, include_org)
    return _page(c, principal, found, paging.limit)


@router.post(
    "/projects/{project_id}/destinations",
    status_code=status.HTTP_201_CREATED,
    summary="Define a destination for the project's configs",
)
def create_project(
    project_id: str, body: DestinationIn, principal: PrincipalDep, c: ContainerDep
) -> DestinationOut:
    principal.require_write(project_id, unknown.project(project_id))
    return destination_out(c.destinations.create(project_id, body, principal), [])


def _guarded(destination_id: str, principal: PrincipalDep, c: ContainerDep, write: bool) -> None:
    project_id = c.destinations.project_of(destination_id)
    if write:
        principal.require_write(project_id, unknown.destination(destination_id))
    else:
        principal.require_read(project_id, unknown.destination(destination_id))


@router.get(
    "/destinations/{destination_id}",
    summary="A destination, the configs using it, its rate-limit use, circuit and last outcome",
)
def get(destination_id: str, principal: PrincipalDep, c: ContainerDep) -> DestinationOut:
    _guarded(destination_id, principal, c, write=False)
    found = c.destinations.get(destination_id)
    uses = c.destinations.uses([destination_id])[destination_id]
    return destination_out(found, uses, c.destinations.health(found))


@router.put(
    "/destinations/{destination_id}",
    summary="Replace a destination's settings; every config using it sends with them next",
)
def update(
    destination_id: str, body: DestinationIn, principal: PrincipalDep, c: ContainerDep
) -> DestinationOut:
    _guarded(destination_id, principal, c, write=True)
    changed = c.destinations.update(destination_id, body, principal)
    uses = c.destinations.uses([destination_id])[destination_id]
    return destination_out(changed, uses, c.destinations.health(changed))


@router.delete(
    "/destinations/{destination_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a destination no config uses (409 naming the configs otherwise)",
)
def delete(destination_id: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    _guarded(destination_id, principal, c, write=True)
    c.destinations.delete(destination_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
