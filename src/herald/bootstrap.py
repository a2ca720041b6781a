"""The composition root: builds every part once from settings and hands them out explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from herald.clock import Clock, SystemClock
from herald.config import Settings
from herald.engine.catalog import Catalog
from herald.engine.executors import ExecutorSet
from herald.engine.runner import ReleaseRunner
from herald.engine.service import ReleaseService
from herald.store.db import Database, create_engine
from herald.tokens import TokenService
from herald.wakeup import Wakeups


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock
    wakeups: Wakeups
    catalog: Catalog
    release: ReleaseService
    tokens: TokenService
    executors: ExecutorSet = field(repr=False)

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Container:
        clock = clock or SystemClock()
        db = Database(create_engine(settings.database_url))
        wakeups = Wakeups()
        return cls(
            settings=settings,
            db=db,
            clock=clock,
            wakeups=wakeups,
            catalog=Catalog(db, clock),
            release=ReleaseService(db, clock, wakeups, settings.commands),
            tokens=TokenService(db, clock),
            executors=ExecutorSet(settings.commands),
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
        )

    def close(self) -> None:
        self.db.dispose()
