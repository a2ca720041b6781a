"""Mute windows per project or callback config, and the decision for what they hold:
release (send now) or drop, one delivery or a whole window. Roles as for configs: readers
list, maintainers of the project (and admins) change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, status

from herald.api import unknown
from herald.api.deps import ContainerDep, PrincipalDep
from herald.api.schemas.common_schemas import ERRORS
from herald.api.schemas.mute_schemas import DecisionOut, MuteIn, MuteOut
from herald.domain.delivery import HeldDecision
from herald.domain.errors import NotFound, missing
from herald.domain.mutes import MuteScope
from herald.history.mute_windows import MuteRequest, MuteView

router = APIRouter(tags=["mutes"], responses=ERRORS)
history_router = APIRouter(tags=["history"], responses=ERRORS)


def _unknown_mute(mute_id: str) -> NotFound:
    return missing("mute window", "mute_id", mute_id)


@router.post("/mutes", status_code=status.HTTP_201_CREATED, summary="Create a mute window")
def create_mute(body: MuteIn, principal: PrincipalDep, c: ContainerDep) -> MuteOut:
    hidden: Callable[[str], NotFound]
    if body.scope.config_id is not None:
        scope, scope_id, hidden = MuteScope.CONFIG, body.scope.config_id, unknown.config
    else:
        assert body.scope.project_id is not None
        scope, scope_id, hidden = MuteScope.PROJECT, body.scope.project_id, unknown.project
    if not principal.is_admin:
        # Before the lookup, so an unreadable scope answers exactly like an unknown one.
        try:
            project_id = c.mutes.project_of_scope(scope, scope_id)
        except NotFound:
            raise hidden(scope_id) from None
        if project_id is None:  # an organisation rule: only an admin may mute it
            raise hidden(scope_id)
        principal.require_write(project_id, hidden(scope_id))
    request = MuteRequest(
        scope=scope,
        scope_id=scope_id,
        reason=body.reason,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        duration=body.duration,
    )
    return MuteOut.model_validate(c.mutes.create(request, principal), from_attributes=True)


@router.get("/mutes", summary="Mute windows the token may see, newest first")
def list_mutes(
    principal: PrincipalDep,
    c: ContainerDep,
    active: Annotated[bool | None, Query(description="true: active now; false: the others")] = None,
    project_id: Annotated[str | None, Query(max_length=36)] = None,
) -> list[MuteOut]:
    found = c.mutes.windows(
        visible=principal.visible_projects, active=active, project_id=project_id
    )
    return [MuteOut.model_validate(m, from_attributes=True) for m in found]


@router.get("/mutes/{mute_id}", summary="One mute window with what it holds")
def get_mute(mute_id: str, principal: PrincipalDep, c: ContainerDep) -> MuteOut:
    return MuteOut.model_validate(_readable(mute_id, principal, c), from_attributes=True)


@router.delete("/mutes/{mute_id}", summary="End a mute window now (what it holds stays held)")
def end_mute(mute_id: str, principal: PrincipalDep, c: ContainerDep) -> MuteOut:
    _writable(mute_id, principal, c)
    return MuteOut.model_validate(c.mutes.end(mute_id, principal), from_attributes=True)


@router.post("/mutes/{mute_id}/release", summary="Send now everything the window holds")
def release_window(mute_id: str, principal: PrincipalDep, c: ContainerDep) -> DecisionOut:
    _writable(mute_id, principal, c)
    decided = c.mutes.decide_window(mute_id, HeldDecision.RELEASE, principal)
    return DecisionOut.model_validate(decided, from_attributes=True)


@router.post("/mutes/{mute_id}/drop", summary="Never send what the window holds")
def drop_window(mute_id: str, principal: PrincipalDep, c: ContainerDep) -> DecisionOut:
    _writable(mute_id, principal, c)
    decided = c.mutes.decide_window(mute_id, HeldDecision.DROP, principal)
    return DecisionOut.model_validate(decided, from_attributes=True)


@history_router.post(
    "/callbacks/history/{delivery_id}/release", summary="Send a muted delivery now"
)
def release_one(delivery_id: str, principal: PrincipalDep, c: ContainerDep) -> DecisionOut:
    principal.require_write(c.history.get(delivery_id).project_id, unknown.delivery(delivery_id))
    decided = c.mutes.decide_one(delivery_id, HeldDecision.RELEASE, principal)
    return DecisionOut.model_validate(decided, from_attributes=True)


@history_router.post("/callbacks/history/{delivery_id}/drop", summary="Never send a muted delivery")
def drop_one(delivery_id: str, principal: PrincipalDep, c: ContainerDep) -> DecisionOut:
    principal.require_write(c.history.get(delivery_id).project_id, unknown.delivery(delivery_id))
    decided = c.mutes.decide_one(delivery_id, HeldDecision.DROP, principal)
    return DecisionOut.model_validate(decided, from_attributes=True)


def _readable(mute_id: str, principal: PrincipalDep, c: ContainerDep) -> MuteView:
    found = c.mutes.get(mute_id)
    if found.project_id is None:
        if not principal.is_admin:
            raise _unknown_mute(mute_id)
    else:
        principal.require_read(found.project_id, _unknown_mute(mute_id))
    return found


def _writable(mute_id: str, principal: PrincipalDep, c: ContainerDep) -> None:
    found = c.mutes.get(mute_id)
    if found.project_id is None:
        if not principal.is_admin:
            raise _unknown_mute(mute_id)
        return
    principal.require_write(found.project_id, _unknown_mute(mute_id))
