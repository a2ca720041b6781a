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
    AttemptOut,
    DigestMember,
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
        status: Annotated[str | None, Query(pattern="^(pending|success|failed)$")] = None,
        kind: Annotated[str | None, Query(pattern="^(event|digest|test)$")] = None,
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


def history_out(row: Any, last: Any | None) -> HistoryOut:
    return HistoryOut(
        id=row.id,
        task_id=row.task_id,
        event_type=row.event_type,
        channel_type=row.channel_type,
        status=row.status,
        request=last.request if last else {},
        response=(last.response_body or "") if last else "",
        error=row.last_error,
        created_at=row.created_at,
        kind=row.kind,
        project_id=row.project_id,
        config_id=row.config_id,
        channel_id=row.channel_id,
        event_id=row.event_id,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_outcome=row.last_outcome,
        platform_code=row.last_code,
        http_status=last.response_status if last else None,
        latency_ms=last.latency_ms if last else None,
        digest_id=row.digest_id,
        digest_size=row.digest_size,
        finished_at=row.finished_at,
    )


def _page(c: ContainerDep, flt: HistoryFilter, paging: PagingDep) -> Page[HistoryOut]:
    rows, last = c.history.deliveries(flt, paging.cursor, paging.limit + 1)
    items = [history_out(r, last.get(r.id)) for r in rows]
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
    return [StatOut(**s) for s in c.history.stats(q.filter(principal.visible_projects))]


@router.get("/callbacks/targets", summary="Delivery targets: rate-limit use and circuit state")
def delivery_targets(principal: PrincipalDep, c: ContainerDep) -> list[TargetOut]:
    return [TargetOut(**t) for t in c.history.targets(principal.visible_projects)]


@router.get("/callbacks/history/{delivery_id}", summary="One delivery with every attempt")
def delivery_detail(delivery_id: str, principal: PrincipalDep, c: ContainerDep) -> HistoryDetail:
    found = c.history.detail(delivery_id)
    row = found["delivery"]
    principal.require_read(row.project_id, unknown.delivery(delivery_id))
    attempts = found["attempts"]
    base = history_out(row, attempts[-1] if attempts else None)
    return HistoryDetail(
        **base.model_dump(),
        attempt_log=[
            AttemptOut(
                id=a.id,
                attempt=a.attempt,
                trigger=a.trigger,
                outcome=a.outcome,
                request=a.request,
                response_status=a.response_status,
                response=a.response_body,
                platform_code=a.platform_code,
                error=a.error,
                latency_ms=a.latency_ms,
                note=a.note,
                created_at=a.created_at,
            )
            for a in attempts
        ],
        members=[
            DigestMember(
                id=m.id,
                event_id=m.event_id,
                task_id=m.task_id,
                event_type=m.event_type,
                status=m.status,
            )
            for m in found["members"]
        ],
    )


@router.post("/callbacks/history/{delivery_id}/resend", summary="Send a delivery again now")
def resend(delivery_id: str, principal: PrincipalDep, c: ContainerDep) -> HistoryOut:
    project_id = c.history.get(delivery_id).project_id
    principal.require_write(project_id, unknown.delivery(delivery_id))
    return history_out(c.history.resend(delivery_id), None)


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
