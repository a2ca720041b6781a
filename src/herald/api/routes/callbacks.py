"""Callback configuration (PRD §4.3): list, get, create per project, update, delete, test."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from herald.api import unknown
from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.schemas.callback_schemas import (
    ChannelOut,
    ChannelPreview,
    ChannelTestResult,
    ConfigIn,
    ConfigOut,
    NewConfigPreviewIn,
    PreviewIn,
    SendTestIn,
    SendTestOut,
)
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.channels.channel_config import host_warnings
from herald.domain.events import EventType
from herald.domain.release import Project
from herald.publishing.callback_configs import describe_config
from herald.publishing.config_model import CallbackConfig
from herald.publishing.preview import render_preview

router = APIRouter(tags=["callbacks"], responses=ERRORS)


def config_out(config: CallbackConfig) -> ConfigOut:
    view = describe_config(config)
    channels = []
    for shown, channel in zip(view["channels"], config.channels, strict=True):
        channels.append(ChannelOut(**shown, warnings=host_warnings(channel.config)))
    warnings = [f"channels.{i}: {w}" for i, ch in enumerate(channels) for w in ch.warnings]
    return ConfigOut(
        **{k: v for k, v in view.items() if k != "channels"},
        channels=channels,
        created_at=config.created_at,
        updated_at=config.updated_at,
        warnings=warnings,
    )


@router.get("/callbacks", summary="List every callback config the token may see")
def list_all(
    principal: PrincipalDep,
    c: ContainerDep,
    paging: PagingDep,
    project_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Page[ConfigOut]:
    # A project the token may not read filters like an unknown one: nothing matches.
    found = c.callbacks.configs(
        visible=principal.visible_projects,
        project_id=project_id,
        after=paging.cursor,
        limit=paging.limit + 1,
    )
    return make_page([config_out(cfg) for cfg in found], paging.limit, lambda cfg: cfg.id)


@router.get("/projects/{project_id}/callbacks", summary="The project's callback configs")
def list_for_project(
    project_id: str, principal: PrincipalDep, c: ContainerDep, paging: PagingDep
) -> Page[ConfigOut]:
    principal.require_read(project_id, unknown.project(project_id))
    found = c.callbacks.configs(
        visible=None, project_id=project_id, after=paging.cursor, limit=paging.limit + 1
    )
    return make_page([config_out(cfg) for cfg in found], paging.limit, lambda cfg: cfg.id)


@router.post(
    "/projects/{project_id}/callbacks",
    status_code=status.HTTP_201_CREATED,
    summary="Create a callback config for the project",
)
def create(project_id: str, body: ConfigIn, principal: PrincipalDep, c: ContainerDep) -> ConfigOut:
    principal.require_write(project_id, unknown.project(project_id))
    return config_out(c.callbacks.create(project_id, body, principal))


def _guard(config_id: str, principal: PrincipalDep, c: ContainerDep, write: bool) -> None:
    project_id = c.callbacks.project_of(config_id)
    if write:
        principal.require_write(project_id, unknown.config(config_id))
    else:
        principal.require_read(project_id, unknown.config(config_id))


@router.get("/callbacks/{config_id}", summary="Get a callback config")
def get(config_id: str, principal: PrincipalDep, c: ContainerDep) -> ConfigOut:
    _guard(config_id, principal, c, write=False)
    return config_out(c.callbacks.get(config_id))


@router.put("/callbacks/{config_id}", summary="Replace a callback config")
def update(config_id: str, body: ConfigIn, principal: PrincipalDep, c: ContainerDep) -> ConfigOut:
    _guard(config_id, principal, c, write=True)
    return config_out(c.callbacks.update(config_id, body, principal))


@router.delete(
    "/callbacks/{config_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a config"
)
def delete(config_id: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    _guard(config_id, principal, c, write=True)
    c.callbacks.delete(config_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _preview(
    c: ContainerDep,
    project_id: str | None,
    body: ConfigIn | None,
    base: CallbackConfig | None,
    event: EventType,
) -> list[ChannelPreview]:
    config = c.callbacks.draft(project_id, body, base) if body is not None else base
    assert config is not None
    # An organisation rule speaks for every project it reaches: a stand-in shows the layout.
    project = (
        c.catalog.get_project(project_id)
        if project_id is not None
        else Project("organisation", "organisation", "", c.clock.now())
    )
    rendered = render_preview(config, project, event, c.clock.now(), c.settings.base_url)
    return [ChannelPreview(**p) for p in rendered]


@router.post(
    "/projects/{project_id}/callbacks/preview",
    summary="Render what an unsaved config's channels would send (nothing is sent)",
)
def preview_new(
    project_id: str, body: NewConfigPreviewIn, principal: PrincipalDep, c: ContainerDep
) -> list[ChannelPreview]:
    principal.require_write(project_id, unknown.project(project_id))
    return _preview(c, project_id, body.config, None, body.event_type)


@router.post(
    "/callbacks/{config_id}/preview",
    summary="Render what the config's channels would send for an event (nothing is sent)",
)
def preview(
    config_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    body: Annotated[PreviewIn | None, Body()] = None,
) -> list[ChannelPreview]:
    body = body or PreviewIn()
    base = c.callbacks.get(config_id)
    principal.require_read(base.project_id, unknown.config(config_id))
    if body.config is not None:
        principal.require_write(base.project_id, unknown.config(config_id))
    return _preview(c, base.project_id, body.config, base, body.event_type)


@router.post(
    "/callbacks/{config_id}/test", summary="Send a sample event to the config's channels now"
)
async def send_test(
    config_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    body: Annotated[SendTestIn | None, Body()] = None,
) -> SendTestOut:
    body = body or SendTestIn()
    project_id = await asyncio.to_thread(c.callbacks.project_of, config_id)
    principal.require_write(project_id, unknown.config(config_id))
    outcomes = await c.test_sender.send(config_id, body.event_type, body.channel_id)
    return SendTestOut(
        config_id=config_id,
        event_type=body.event_type.value,
        results=[
            ChannelTestResult(
                channel_id=r.channel_id,
                channel_type=r.channel_type,
                delivery_id=r.delivery_id,
                outcome=r.outcome,
                delivered=r.delivered,
                code=r.code,
                message=r.message,
                http_status=r.http_status,
                latency_ms=r.latency_ms,
            )
            for r in outcomes
        ],
    )
