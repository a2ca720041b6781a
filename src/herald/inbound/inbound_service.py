"""Inbound sources (per project, secret encrypted) and the handling of one inbound request.

A request runs: find the source → verify the raw bytes as its platform signs them → parse →
translate into an external-event body → hand it to the external-events service (the same
validation and once-per-(run id, event) rule as `POST /api/v1/release/events`). Whatever the
outcome, the request is logged in `inbound_deliveries` (verdict, status, the event it became or
why it was refused; never the secret or the body).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from herald.access.roles import Principal, Role
from herald.domain.errors import DomainError, InvalidInput, NotFound
from herald.domain.ids import new_id
from herald.inbound import argo, flux, github, gitlab
from herald.inbound.inbound_types import Refused, SourceKind, Translation, lowered
from herald.runtime.clock import Clock
from herald.security.encryption import KeyRing, SecretDecryptError
from herald.store import audit_repo, project_repo
from herald.store import inbound_repo as repo
from herald.store.db import Database
from herald.store.inbound_repo import InboundDeliveryRecord, SourceRecord

SOURCE_KINDS: dict[str, SourceKind] = {
    module.KIND: SourceKind(module.verify, module.translate)
    for module in (github, gitlab, flux, argo)
}
MASK = "****"
KEEP_DELIVERIES = 1000  # per source, newest first


@dataclass(frozen=True)
class EventOutcome:
    """What the external-events service answered for one event body."""

    task_id: str
    event_id: str | None
    duplicate: bool


class EventSink(Protocol):
    """The external-events service as inbound sources use it (through the API's validation of
    `POST /api/v1/events` bodies): record `body` for `project_id`, once per (run id, event);
    raise a `DomainError` for a body it refuses."""

    def __call__(self, body: dict[str, Any], project_id: str, actor: Principal) -> EventOutcome: ...


@dataclass(frozen=True)
class InboundSource:
    """A source as people may see it: the secret masked, except in `created_secret` once."""

    id: str
    project_id: str
    kind: str
    name: str
    secret: str
    created_by: str | None
    created_at: Any


@dataclass(frozen=True)
class InboundAnswer:
    """The HTTP answer for the platform, already logged."""

    status: int
    body: dict[str, Any]


def _shown(record: SourceRecord, secret: str = MASK) -> InboundSource:
    return InboundSource(
        record.id,
        record.project_id,
        record.kind,
        record.name,
        secret,
        record.created_by,
        record.created_at,
    )


class InboundService:
    def __init__(
        self, db: Database, clock: Clock, keyring: KeyRing, keep_deliveries: int = KEEP_DELIVERIES
    ) -> None:
        self.db = db
        self.clock = clock
        self.keyring = keyring
        self.keep_deliveries = keep_deliveries

    # --- sources -----------------------------------------------------------------------------

    def create_source(
        self, project_id: str, kind: str, name: str, secret: str | None, actor: Principal
    ) -> InboundSource:
        """Create a source; the answer carries the secret in clear, the only time it does."""
        if kind not in SOURCE_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(SOURCE_KINDS)}", {"kind": kind})
        plain = secret or secrets.token_urlsafe(32)
        record = SourceRecord(
            new_id(),
            project_id,
            kind,
            name,
            self.keyring.encrypt_text(plain),
            actor.name,
            self.clock.now(),
        )
        with self.db.transaction() as uow:
            project_repo.get_project(uow.conn, project_id)
            repo.insert_source(uow.conn, record)
            self._audit(uow.conn, actor, "inbound_source.create", record)
        return _shown(record, plain)

    def get_source(self, source_id: str) -> InboundSource:
        with self.db.read() as conn:
            return _shown(repo.get_source(conn, source_id))

    def list_sources(self, project_id: str) -> list[InboundSource]:
        with self.db.read() as conn:
            project_repo.get_project(conn, project_id)
            return [_shown(r) for r in repo.list_sources(conn, project_id)]

    def delete_source(self, source_id: str, actor: Principal) -> None:
        with self.db.transaction() as uow:
            record = repo.get_source(uow.conn, source_id)
            repo.delete_source(uow.conn, source_id)
            self._audit(uow.conn, actor, "inbound_source.delete", record)

    def deliveries(
        self, source_id: str, before: str | None, limit: int
    ) -> list[InboundDeliveryRecord]:
        with self.db.read() as conn:
            repo.get_source(conn, source_id)
            return repo.list_deliveries(conn, source_id, before=before, limit=limit)

    def _audit(self, conn: Any, actor: Principal, action: str, record: SourceRecord) -> None:
        described = {"kind": record.kind, "name": record.name, "secret": MASK}
        audit_repo.record(
            conn,
            actor,
            action=action,
            resource_type="inbound_source",
            resource_id=record.id,
            project_id=record.project_id,
            before=described if action.endswith("delete") else None,
            after=None if action.endswith("delete") else described,
            at=self.clock.now(),
        )

    # --- receiving ---------------------------------------------------------------------------

    def receive(
        self, source_id: str, headers: Mapping[str, str], body: bytes, sink: EventSink
    ) -> InboundAnswer:
        """Verify, translate and record one platform request; log it whatever happens.

        `NotFound` for an unknown source (nothing to log it under)."""
        with self.db.read() as conn:
            source = repo.get_source(conn, source_id)
        heads = lowered(headers)
        module = SOURCE_KINDS[source.kind]
        translation: Translation | None = None
        try:
            module.verify(self._secret(source), heads, body)
            translation = module.translate(heads, _parse(body))
            return self._apply(source, translation, sink)
        except Refused as refused:
            answer = InboundAnswer(
                refused.status,
                {"error": {"code": refused.code, "message": refused.message, "details": None}},
            )
            self._log(source, "refused", answer.status, translation, reason=refused.message)
            return answer

    def _secret(self, source: SourceRecord) -> str:
        try:
            return self.keyring.decrypt_text(source.secret)
        except SecretDecryptError:
            raise Refused(
                503, "secret_unreadable", "the source's secret cannot be read with Herald's keys"
            ) from None

    def _apply(
        self, source: SourceRecord, translation: Translation, sink: EventSink
    ) -> InboundAnswer:
        if translation.event is None:
            self._log(source, "ignored", 202, translation, reason=translation.ignored)
            return InboundAnswer(202, {"ignored": translation.ignored})
        event = translation.event
        # The audit log names the source (its id fits the actor column) as the actor.
        name = f"inbound {source.kind} source {source.name}"[:100]
        actor = Principal(source.id, name, Role.MAINTAINER, _scope(source))
        try:
            outcome = sink(event, source.project_id, actor)
        except NotFound as exc:
            raise Refused(422, "unusable_payload", exc.message) from None
        except DomainError as exc:
            raise Refused(422, exc.code, exc.message) from None
        verdict = "duplicate" if outcome.duplicate else "accepted"
        self._log(source, verdict, 200, translation, task_id=outcome.task_id)
        answer = {
            "verdict": verdict,
            "event_type": event["event"],
            "run_id": event["run_id"],
            "task_id": outcome.task_id,
        }
        return InboundAnswer(200, answer)

    def _log(
        self,
        source: SourceRecord,
        verdict: str,
        status: int,
        translation: Translation | None,
        *,
        reason: str = "",
        task_id: str | None = None,
    ) -> None:
        event = translation.event if translation else None
        record = InboundDeliveryRecord(
            id=new_id(),
            source_id=source.id,
            received_at=self.clock.now(),
            verdict=verdict,
            status_code=status,
            platform_event=translation.platform_event[:64] if translation else None,
            delivery_key=(translation.delivery_key or "")[:200] or None if translation else None,
            event_type=str(event["event"]) if event else None,
            run_id=str(event["run_id"]) if event else None,
            task_id=task_id,
            reason=reason[:1000],
        )
        with self.db.transaction() as uow:
            repo.insert_delivery(uow.conn, record)
            repo.prune_deliveries(uow.conn, source.id, self.keep_deliveries)


def _parse(body: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "bad_request", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "bad_request", "the body must be a JSON object")
    return payload


def _scope(source: SourceRecord) -> frozenset[str]:
    return frozenset({source.project_id})
