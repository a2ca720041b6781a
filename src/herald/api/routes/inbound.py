"""Inbound webhooks: the receiving route (signed by the platform, no API token) and the
per-project sources with their delivery log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from herald.access.roles import Principal
from herald.api import unknown
from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.api.schemas.event_schemas import ExternalEventIn
from herald.api.schemas.inbound_schemas import (
    InboundDeliveryOut,
    InboundSourceCreate,
    InboundSourceOut,
)
from herald.domain.errors import InvalidInput, missing
from herald.domain.shapes import validation_message
from herald.inbound.inbound_service import EventOutcome, EventSink, InboundSource

if TYPE_CHECKING:
    from herald.bootstrap import Container

INBOUND_PATH = "/api/v1/inbound"

router = APIRouter(tags=["inbound"], responses=ERRORS)
receiver = APIRouter(tags=["inbound"], responses=ERRORS)


def _events(c: Container) -> EventSink:
    """The external-events service behind `POST /api/v1/events`, with the same validation."""

    def record(body: dict[str, Any], project_id: str, actor: Principal) -> EventOutcome:
        try:
            event = ExternalEventIn.model_validate({**body, "project_id": project_id})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            message = validation_message(first)
            raise InvalidInput(f"{where}: {message}" if where else message) from None
        applied = c.external_events.apply(event.to_event(project_id), actor)
        return EventOutcome(applied.task.id, applied.event_id, applied.duplicate)

    return record


def source_out(source: InboundSource, base_url: str) -> InboundSourceOut:
    return InboundSourceOut(
        id=source.id,
        project_id=source.project_id,
        kind=source.kind,
        name=source.name,
        secret=source.secret,
        url=f"{base_url.rstrip('/')}{INBOUND_PATH}/{source.id}",
        created_by=source.created_by,
        created_at=source.created_at,
    )


@receiver.post(
    "/inbound/{source_id}",
    summary="Receive a webhook from GitHub, GitLab, Flux or Argo (verified by its signature)",
    responses={200: {"description": "recorded (or a duplicate)"}, 202: {"description": "ignored"}},
)
async def receive(source_id: str, request: Request, c: ContainerDep) -> Response:
    body = await request.body()
    answer = c.inbound.receive(source_id, dict(request.headers), body, _events(c))
    return JSONResponse(answer.body, status_code=answer.status)


@router.get("/projects/{project_id}/inbound-sources", summary="The project's inbound sources")
def list_sources(
    project_id: str, principal: PrincipalDep, c: ContainerDep
) -> list[InboundSourceOut]:
    principal.require_read(project_id, unknown.project(project_id))
    base = c.settings.base_url
    return [source_out(s, base) for s in c.inbound.list_sources(project_id)]


@router.post(
    "/projects/{project_id}/inbound-sources",
    status_code=status.HTTP_201_CREATED,
    summary="Create an inbound source; the answer shows its secret, the only time it is shown",
)
def create_source(
    project_id: str, body: InboundSourceCreate, principal: PrincipalDep, c: ContainerDep
) -> InboundSourceOut:
    principal.require_write(project_id, unknown.project(project_id))
    created = c.inbound.create_source(project_id, body.kind, body.name, body.secret, principal)
    return source_out(created, c.settings.base_url)


def _source(project_id: str, source_id: str, c: ContainerDep) -> InboundSource:
    source = c.inbound.get_source(source_id)
    if source.project_id != project_id:
        c.catalog.get_project(project_id)  # an unknown project is named as such
        raise missing("inbound source", "source_id", source_id)
    return source


@router.get("/projects/{project_id}/inbound-sources/{source_id}", summary="An inbound source")
def get_source(
    project_id: str, source_id: str, principal: PrincipalDep, c: ContainerDep
) -> InboundSourceOut:
    principal.require_read(project_id, unknown.project(project_id))
    return source_out(_source(project_id, source_id, c), c.settings.base_url)


@router.delete(
    "/projects/{project_id}/inbound-sources/{source_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an inbound source and its delivery log",
)
def delete_source(
    project_id: str, source_id: str, principal: PrincipalDep, c: ContainerDep
) -> Response:
    principal.require_write(project_id, unknown.project(project_id))
    _source(project_id, source_id, c)
    c.inbound.delete_source(source_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/projects/{project_id}/inbound-sources/{source_id}/deliveries",
    summary="Requests received for the source, newest first",
)
def list_deliveries(
    project_id: str, source_id: str, principal: PrincipalDep, c: ContainerDep, paging: PagingDep
) -> Page[InboundDeliveryOut]:
    principal.require_read(project_id, unknown.project(project_id))
    _source(project_id, source_id, c)
    found = c.inbound.deliveries(source_id, paging.cursor, paging.limit + 1)
    items = [InboundDeliveryOut.model_validate(d, from_attributes=True) for d in found]
    return make_page(items, paging.limit, lambda d: d.id)
