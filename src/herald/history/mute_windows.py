"""Mute window use cases: create, list with what each holds, end early, and a person's
decision for held deliveries (release: send now; drop: never send), one or a window's all.

Nothing held is lost or sent behind a person's back: a window that ends keeps what it held
`muted` until someone releases or drops it (see docs/guide.md, "Mute windows").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from herald.domain.delivery import DeliveryStatus, HeldDecision, decide_held
from herald.domain.errors import InvalidInput
from herald.domain.ids import new_id
from herald.domain.mutes import MAX_REASON, MuteScope, MuteState, MuteWindow, window_span
from herald.runtime.clock import Clock
from herald.runtime.wakeups import Wakeups
from herald.store import (
    audit_repo,
    config_repo,
    delivery_state,
    history_repo,
    mute_repo,
    project_repo,
)
from herald.store.audit_repo import Actor
from herald.store.db import Database, UnitOfWork
from herald.store.fanout import notify_other_workers


@dataclass(frozen=True)
class MuteRequest:
    """A new window: its scope, and its span as `window_span` reads it."""

    scope: MuteScope
    scope_id: str
    reason: str
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    duration: str | None = None


@dataclass(frozen=True)
class MuteView:
    id: str
    scope: MuteScope
    scope_id: str
    project_id: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    created_by: str
    created_at: dt.datetime
    ended_by: str | None
    state: MuteState
    held: int  # muted deliveries waiting for a decision
    released: int
    dropped: int


@dataclass(frozen=True)
class Decided:
    """What a release or drop changed: the deliveries moved and the status they now have."""

    status: DeliveryStatus
    delivery_ids: list[str]


class MuteService:
    def __init__(self, db: Database, clock: Clock, wakeups: Wakeups) -> None:
        self.db = db
        self.clock = clock
        self.wakeups = wakeups

    def project_of_scope(self, scope: MuteScope, scope_id: str) -> str | None:
        """The project a scope belongs to, None for an organisation rule (raises `NotFound`
        for an unknown one)."""
        with self.db.read() as conn:
            if scope == MuteScope.CONFIG:
                return config_repo.config_project(conn, scope_id)
            return project_repo.get_project(conn, scope_id).id

    def create(self, request: MuteRequest, actor: Actor) -> MuteView:
        now = self.clock.now()
        reason = request.reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InvalidInput(
                f"give a reason of 1 to {MAX_REASON} characters (people see it beside the "
                "held notifications)",
                {"field": "reason"},
            )
        start, end = window_span(now, request.starts_at, request.ends_at, request.duration)
        window = MuteWindow(
            id=new_id(),
            scope=request.scope,
            scope_id=request.scope_id,
            project_id=self.project_of_scope(request.scope, request.scope_id),
            starts_at=start,
            ends_at=end,
            reason=reason,
            created_by=actor.name,
            created_at=now,
        )
        with self.db.transaction() as uow:
            mute_repo.insert_mute(uow.conn, window)
            self._audit(uow, actor, "mute.create", window, None)
        return self.get(window.id)

    def get(self, mute_id: str) -> MuteView:
        with self.db.read() as conn:
            window = mute_repo.get_mute(conn, mute_id)
            counts = mute_repo.held_counts(conn, [mute_id])
        return self._view(window, counts)

    def windows(
        self, *, visible: set[str] | None, active: bool | None, project_id: str | None
    ) -> list[MuteView]:
        """Windows newest first; `active=True`: only those active now; `False`: the others."""
        now = self.clock.now()
        with self.db.read() as conn:
            found = mute_repo.list_mutes(
                conn, visible=visible, active_at=now if active else None, project_id=project_id
            )
            if active is False:
                found = [w for w in found if w.state(now) != MuteState.ACTIVE]
            counts = mute_repo.held_counts(conn, [w.id for w in found])
        return [self._view(w, counts) for w in found]

    def end(self, mute_id: str, actor: Actor) -> MuteView:
        """End a window now; what it held stays muted until someone decides."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            before = mute_repo.get_mute(uow.conn, mute_id)
            if before.state(now) != MuteState.ENDED:
                mute_repo.end_mute(uow.conn, mute_id, actor.name, now)
                after = mute_repo.get_mute(uow.conn, mute_id)
                self._audit(uow, actor, "mute.end", after, before)
        return self.get(mute_id)

    def decide_one(self, delivery_id: str, decision: HeldDecision, actor: Actor) -> Decided:
        """Release or drop one muted delivery (`Conflict` if it is not muted)."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            row = history_repo.get_delivery(uow.conn, delivery_id)
            status = decide_held(delivery_id, row.status, decision)
            ids = delivery_state.decide_held(
                uow.conn, mute_repo.one_delivery(delivery_id), status, _note(actor), now
            )
            self._after_decision(uow, status, ids)
        return Decided(status, ids)

    def decide_window(self, mute_id: str, decision: HeldDecision, actor: Actor) -> Decided:
        """Release or drop everything a window still holds (nothing held: nothing changes)."""
        now = self.clock.now()
        status = (
            DeliveryStatus.PENDING if decision == HeldDecision.RELEASE else DeliveryStatus.DROPPED
        )
        with self.db.transaction() as uow:
            window = mute_repo.get_mute(uow.conn, mute_id)
            ids = delivery_state.decide_held(
                uow.conn, mute_repo.held_deliveries(mute_id), status, _note(actor), now
            )
            self._after_decision(uow, status, ids)
            audit_repo.record(
                uow.conn,
                actor,
                action=f"mute.{decision}",
                resource_type="mute",
                resource_id=mute_id,
                project_id=window.project_id,
                before=None,
                after={"deliveries": len(ids)},
                at=now,
            )
        return Decided(status, ids)

    def _after_decision(self, uow: UnitOfWork, status: DeliveryStatus, ids: list[str]) -> None:
        if ids and status == DeliveryStatus.PENDING:
            notify_other_workers(uow.conn)
            uow.after_commit(self.wakeups.deliveries.fire)

    def _audit(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        after: MuteWindow,
        before: MuteWindow | None,
    ) -> None:
        audit_repo.record(
            uow.conn,
            actor,
            action=action,
            resource_type="mute",
            resource_id=after.id,
            project_id=after.project_id,
            before=_described(before) if before else None,
            after=_described(after),
            at=self.clock.now(),
        )

    def _view(self, window: MuteWindow, counts: dict[str, mute_repo.HeldCounts]) -> MuteView:
        held = counts.get(window.id) or mute_repo.HeldCounts(0, 0, 0)
        return MuteView(
            **vars(window),
            state=window.state(self.clock.now()),
            held=held.muted,
            released=held.released,
            dropped=held.dropped,
        )


def _note(actor: Actor) -> str:
    return f"dropped by {actor.name} (held by a mute window)"


def _described(window: MuteWindow) -> dict[str, str | None]:
    return {
        "scope": str(window.scope),
        "scope_id": window.scope_id,
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "reason": window.reason,
        "ended_by": window.ended_by,
    }
