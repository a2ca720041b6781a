"""Delivery history (PRD §4.3), detail with every attempt, resend, stats and target states."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, BeforeValidator

from herald.api import unknown
from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.schemas.callback_schemas import (
    HistoryDetail,
    HistoryOut,
    StatOut,
    TargetOut,
)
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.domain.events import EventType
from herald.history.reads import HistoryFilter

router = APIRouter(tags=["history"], responses=ERRORS)

ChannelType = Annotated[str | None, Query(max_length=32, description="feishu, dingtalk, …")]


def _not_a_number(value: object) -> object:
    # pydantic would read a bare number as Unix seconds, which the documented format excludes.
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError("give an ISO-8601 time such as 2026-11-28T09:00:00Z, not a number")
    return value


def _in_utc(moment: dt.datetime) -> dt.datetime:
    """Naive times are UTC; others are converted (0001-01-01T00:00+01:00 has no UTC form)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
Instant = Annotated[dt.datetime, BeforeValidator(_not_a_number), AfterValidator(_in_utc)]


class HistoryQuery:
    def __init__(
        self,
        project_id: Annotated[str | None, Query(max_length=36)] = None,
        channel_type: ChannelType = None,
        event_type: Annotated[EventType | None, Query()] = None,
        status: Annotated[
            str | None, Query(pattern="^(pending|success|failed|muted|dropped)$")
        ] = None,
        kind: Annotated[
            str | None,
            Query(
                pattern="^(event|digest|test|notification)$",
                description="notification: events and digests, no test sends",
            ),
        ] = None,
        since: Annotated[Instant | None, Query(description="ISO-8601, inclusive")] = None,
        until: Annotated[Instant | None, Query(description="ISO-8601, exclusive")] = None,
    ) -> None:
        self.project_id = project_id
        self.values: dict[str, Any] = {
            "project_id": project_id,
            "channel_type": channel_type,
            "event_type": event_type.value if event_type else None,
            "status": status,
            "kind": kind,
            "since": since,
            "until": until,
        }

    def filter(self, visible: set[str] | None, **fixed: Any) -> HistoryFilter:
        return HistoryFilter(visible=visible, **{**self.values, **fixed})


QueryDep = Annotated[HistoryQuery, Depends()]


def _page(c: ContainerDep, flt: HistoryFilter, paging: PagingDep) -> Page[HistoryOut]:
    views = c.history.deliveries(flt, paging.cursor, paging.limit + 1)
    items = [HistoryOut.model_validate(v, from_attributes=True) for v in views]
    return make_page(items, paging.limit, lambda h: h.id)


@router.get("/callbacks/history", summary="Delivery history across the projects the token may see")
def all_history(
    principal: PrincipalDep,
    c: ContainerDep,
    paging: PagingDep,
    q: QueryDep,
    task_id: Annotated[str | None, Query(max_length=36)] = None,
    config_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Page[HistoryOut]:
    # A project the token may not read filters like an unknown one: nothing matches.
    flt = q.filter(principal.visible_projects, task_id=task_id, config_id=config_id)
    return _page(c, flt, paging)


@router.get("/callbacks/stats", summary="Counts, success rate and latency per channel and event")
def stats(principal: PrincipalDep, c: ContainerDep, q: QueryDep) -> list[StatOut]:
    found = c.history.stats(q.filter(principal.visible_projects))
    return [StatOut.model_validate(s, from_attributes=True) for s in found]


@router.get("/callbacks/targets", summary="Delivery targets: rate-limit use and circuit state")
def delivery_targets(principal: PrincipalDep, c: ContainerDep) -> list[TargetOut]:
    found = c.history.targets(principal.visible_projects)
    return [TargetOut.model_validate(t, from_attributes=True) for t in found]


@router.get("/callbacks/history/{delivery_id}", summary="One delivery with every attempt")
def delivery_detail(delivery_id: str, principal: PrincipalDep, c: ContainerDep) -> HistoryDetail:
    found = c.history.detail(delivery_id)
    principal.require_read(found.project_id, unknown.delivery(delivery_id))
    return HistoryDetail.model_validate(found, from_attributes=True)


@router.post("/callbacks/history/{delivery_id}/resend", summary="Send a delivery again now")
def resend(delivery_id: str, principal: PrincipalDep, c: ContainerDep) -> HistoryOut:
    project_id = c.history.get(delivery_id).project_id
    principal.require_write(project_id, unknown.delivery(delivery_id))
    return HistoryOut.model_validate(c.history.resend(delivery_id), from_attributes=True)


@router.get("/tasks/{task_id}/callbacks", summary="Delivery history of one task")
def task_history(
    task_id: str, principal: PrincipalDep, c: ContainerDep, paging: PagingDep, q: QueryDep
) -> Page[HistoryOut]:
    task = c.release.get_task(task_id)
    principal.require_read(task.spec.project_id, unknown.task(task_id))
    return _page(c, q.filter(None, task_id=task_id), paging)


@router.get("/callbacks/{config_id}/history", summary="Delivery history of one callback config")
def config_history(
    config_id: str, principal: PrincipalDep, c: ContainerDep, paging: PagingDep, q: QueryDep
) -> Page[HistoryOut]:
    principal.require_read(c.callbacks.project_of(config_id), unknown.config(config_id))
    return _page(c, q.filter(None, config_id=config_id), paging)
