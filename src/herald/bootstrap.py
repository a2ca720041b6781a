"""The composition root: builds every part once from settings and hands them out explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from herald.access.audit_log import AuditLog
from herald.access.idempotency import IdempotencyService
from herald.access.token_service import TokenService
from herald.delivery.testsend import SendTester
from herald.delivery.worker import DeliveryWorker, WorkerParts
from herald.engine.catalog import Catalog
from herald.engine.executors import ExecutorSet
from herald.engine.external_events import ExternalEvents
from herald.engine.releases import ReleaseService
from herald.engine.runner import ReleaseRunner
from herald.history.mute_windows import MuteService
from herald.history.reads import HistoryService
from herald.inbound.inbound_service import InboundService
from herald.observability.metrics import Metrics
from herald.publishing.callback_configs import CallbackService
from herald.publishing.destination_service import DestinationService
from herald.runtime.clock import Clock, SystemClock
from herald.runtime.heartbeats import Heartbeats
from herald.runtime.settings import Settings
from herald.runtime.wakeups import Wakeups
from herald.security.egress import EgressPolicy
from herald.security.egress_proxy import EgressRoutes
from herald.security.encryption import KeyRing
from herald.security.keys import build_keyring
from herald.store.db import Database, create_engine


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock
    wakeups: Wakeups
    keyring: KeyRing = field(repr=False)
    metrics: Metrics
    catalog: Catalog
    release: ReleaseService
    tokens: TokenService
    audit: AuditLog
    callbacks: CallbackService
    history: HistoryService
    mutes: MuteService
    destinations: DestinationService
    test_sender: SendTester
    external_events: ExternalEvents
    idempotency: IdempotencyService
    executors: ExecutorSet = field(repr=False)
    inbound: InboundService = field(repr=False)
    beats: Heartbeats = field(default_factory=Heartbeats)
    notices: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls, settings: Settings, clock: Clock | None = None, *, embedded: bool = False
    ) -> Container:
        clock = clock or SystemClock()
        db = Database(create_engine(settings.database_url))
        wakeups = Wakeups()
        keyring, notice = build_keyring(settings, embedded=embedded)
        metrics = Metrics()
        metrics.watch_store(db)
        catalog = Catalog(db, clock)
        release = ReleaseService(db, clock, wakeups, settings.commands)
        container = cls(
            settings=settings,
            db=db,
            clock=clock,
            wakeups=wakeups,
            keyring=keyring,
            metrics=metrics,
            catalog=catalog,
            release=release,
            tokens=TokenService(db, clock),
            audit=AuditLog(db),
            callbacks=CallbackService(
                db, clock, keyring, EgressPolicy(settings.egress_allow), settings.locale
            ),
            history=HistoryService(db, clock, wakeups),
            mutes=MuteService(db, clock, wakeups),
            destinations=DestinationService(
                db, clock, keyring, EgressPolicy(settings.egress_allow)
            ),
            test_sender=SendTester(
                cls._worker_parts(settings, db, clock, keyring, wakeups, metrics)
            ),
            external_events=ExternalEvents(release, catalog),
            idempotency=IdempotencyService(db, clock),
            executors=ExecutorSet(settings.commands),
            inbound=InboundService(db, clock, keyring),
        )
        if notice:
            container.notices.append(notice)
        return container

    @staticmethod
    def _worker_parts(
        settings: Settings,
        db: Database,
        clock: Clock,
        keyring: KeyRing,
        wakeups: Wakeups,
        metrics: Metrics,
    ) -> WorkerParts:
        return WorkerParts(
            db=db,
            clock=clock,
            keyring=keyring,
            wakeups=wakeups,
            metrics=metrics,
            settings=settings.worker,
            egress=EgressPolicy(settings.egress_allow),
            routes=EgressRoutes(
                settings.egress_proxy.get_secret_value() if settings.egress_proxy else None,
                settings.egress_ca_bundle,
            ),
            base_url=settings.base_url,
            database_url=settings.database_url,
            retention=settings.retention,
        )

    def runner(self, owner: str | None = None) -> ReleaseRunner:
        return ReleaseRunner(
            service=self.release,
            db=self.db,
            clock=self.clock,
            settings=self.settings.engine,
            executors=self.executors,
            wakeups=self.wakeups,
            owner=owner,
            beats=self.beats,
        )

    def worker_parts(self) -> WorkerParts:
        parts = self._worker_parts(
            self.settings, self.db, self.clock, self.keyring, self.wakeups, self.metrics
        )
        parts.beats = self.beats
        return parts

    def worker(self, owner: str | None = None) -> DeliveryWorker:
        return DeliveryWorker(self.worker_parts(), owner)

    def close(self) -> None:
        self.db.dispose()
