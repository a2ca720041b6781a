"""The asyncio runner that drives engine-executed tasks batch by batch.

Each engine instance leases the running tasks it drives (see `claim_engine_tasks`) and renews
the lease while it lives; a task whose engine died is picked up by another when the lease runs
out, and hosts caught mid-deploy are deployed again. Events cannot repeat: each is unique per
task and type in the store, and the aggregate knows which it already emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket

from herald.clock import Clock
from herald.config import EngineSettings
from herald.domain.errors import DomainError
from herald.domain.ids import new_id
from herald.domain.release import Status, Task
from herald.engine.executors import DeployTarget, Executor, ExecutorSet
from herald.engine.service import HostReport, ReleaseService
from herald.heartbeat import Heartbeats, guarded_cycles
from herald.store import projects as project_repo
from herald.store import tasks as task_repo
from herald.store.db import Database
from herald.wakeup import Wakeups, wait_for

log = logging.getLogger(__name__)


class ReleaseRunner:
    def __init__(
        self,
        *,
        service: ReleaseService,
        db: Database,
        clock: Clock,
        settings: EngineSettings,
        executors: ExecutorSet,
        wakeups: Wakeups,
        owner: str | None = None,
        beats: Heartbeats | None = None,
    ) -> None:
        self.beats = beats or Heartbeats()
        self.service = service
        self.db = db
        self.clock = clock
        self.settings = settings
        self.executors = executors
        self.wakeups = wakeups
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"
        self._drivers: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Drive tasks until cancelled; on the way out, stop driving and release the leases."""
        flag = self.wakeups.tasks.subscribe()

        async def cycle() -> None:
            await self.tick()
            await wait_for(flag, await asyncio.to_thread(self._sleep_seconds))

        try:
            await guarded_cycles("engine", cycle, self.beats, log)
        finally:
            self.wakeups.tasks.unsubscribe(flag)
            await self._shutdown()

    async def tick(self) -> None:
        owned = set(await asyncio.to_thread(self._claim))
        for task_id in owned:
            driver = self._drivers.get(task_id)
            if driver is None or driver.done():
                self._drivers[task_id] = asyncio.create_task(self._drive(task_id))
        for task_id, driver in list(self._drivers.items()):
            if driver.done():
                del self._drivers[task_id]
            elif task_id not in owned:
                driver.cancel()  # the lease went to another engine
        await asyncio.to_thread(self._run_timers)

    def _claim(self) -> list[str]:
        now = self.clock.now()
        until = now + dt.timedelta(seconds=self.settings.lease_seconds)
        with self.db.transaction() as uow:
            return task_repo.claim_engine_tasks(uow.conn, self.owner, now, until)

    def _run_timers(self) -> None:
        with self.db.read() as conn:
            due = task_repo.due_timer_task_ids(conn, self.clock.now())
        for task_id in due:
            try:
                self.service.run_timers(task_id)
            except DomainError as exc:
                log.warning("timers of task %s: %s", task_id, exc.message)

    def _sleep_seconds(self) -> float:
        sleep = min(self.settings.poll_interval, self.settings.lease_seconds / 3)
        with self.db.read() as conn:
            upcoming = task_repo.next_timer_at(conn)
        if upcoming is not None:
            sleep = min(sleep, max((upcoming - self.clock.now()).total_seconds(), 0.0))
        return sleep

    async def _shutdown(self) -> None:
        drivers = list(self._drivers.values())
        for driver in drivers:
            driver.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        self._drivers.clear()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._release)

    def _release(self) -> None:
        with self.db.transaction() as uow:
            task_repo.release_engine_tasks(uow.conn, self.owner)

    async def _drive(self, task_id: str) -> None:
        try:
            while await self._next_batch(task_id):
                pass
        except asyncio.CancelledError:
            raise
        except DomainError as exc:
            log.warning("task %s: %s", task_id, exc.message)
        except Exception:
            log.exception("engine failed while driving task %s", task_id)

    async def _next_batch(self, task_id: str) -> bool:
        """Deploy the task's next batch; False when there is nothing (more) to do now."""
        task = await asyncio.to_thread(self.service.get_task, task_id)
        batch = task.next_batch()
        if not batch:
            return False
        kind = str(task.spec.executor.get("type"))
        executor = self.executors.for_type(kind)
        if executor is None:
            await asyncio.to_thread(self.service.fail, task_id, f"no executor for {kind!r}")
            return False
        targets = await asyncio.to_thread(self._targets, task, batch)
        await asyncio.to_thread(self.service.dispatch, task_id, batch)
        return await self._deploy(task_id, targets, executor)

    def _targets(self, task: Task, hosts: list[str]) -> list[DeployTarget]:
        with self.db.read() as conn:
            project = project_repo.get_project(conn, task.spec.project_id)
            version = project_repo.get_version(conn, task.spec.version_id)
        return [
            DeployTarget(
                task_id=task.id,
                project=project.name,
                version=version.name,
                host=host,
                task_type=task.spec.type.value,
                environment=task.spec.environment.value,
                executor=task.spec.executor,
            )
            for host in hosts
        ]

    async def _deploy(self, task_id: str, targets: list[DeployTarget], executor: Executor) -> bool:
        limit = asyncio.Semaphore(self.settings.max_parallel_hosts)

        async def one(target: DeployTarget) -> HostReport:
            async with limit:
                return await executor.deploy(target)

        pending = {asyncio.create_task(one(t)) for t in targets}
        try:
            for finished in asyncio.as_completed(pending):
                report = await finished
                task = await asyncio.to_thread(self.service.record_results, task_id, [report])
                if task.status is not Status.RUNNING:
                    return False
        finally:
            for job in pending:
                job.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        return True
