"""The asyncio runner that drives engine-executed tasks batch by batch.

Each engine instance leases the running tasks it drives (see `claim_engine_tasks`) and renews
the lease while it lives; a task whose engine died is picked up by another when the lease runs
out, and hosts caught mid-deploy are deployed again. Events cannot repeat: each is unique per
task and type in the store, and the aggregate knows which it already emitted.

Store errors never leave a task running with nobody driving it. While the database is
unavailable (`is_transient`), store calls wait and retry with backoff, logging the outage once;
the task is never failed for it. Any other error while driving or timing a task (the store
refusing the data, a bug) would repeat on every retry, so the task ends `failed` with the error
as its reason and its `task_failed` event fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from typing import TypeVar

from herald.domain.errors import DomainError
from herald.domain.ids import new_id
from herald.domain.release import Status, Task
from herald.engine.executors import DeployTarget, Executor, ExecutorSet
from herald.engine.releases import HostReport, ReleaseService
from herald.runtime.clock import Clock
from herald.runtime.heartbeats import Heartbeats, guarded_cycles
from herald.runtime.settings import EngineSettings
from herald.runtime.wakeups import Wakeups, wait_for
from herald.store import project_repo, task_repo
from herald.store.db import Database, describe_error, is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")
MIN_SLEEP = 0.05  # seconds between passes at least
FIRST_RETRY, LAST_RETRY = 0.5, 30.0  # seconds between store retries while the database is away


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
        self._abandoned: set[str] = set()  # tasks not even a failure could be stored for

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
        for task_id in owned - self._abandoned:
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
        """Run due timers; an outage ends the pass (the cycle backs off), other errors end the
        task whose timers raised them."""
        with self.db.read() as conn:
            due = task_repo.due_timer_task_ids(conn, self.clock.now())
        for task_id in set(due) - self._abandoned:
            try:
                self.service.run_timers(task_id)
            except DomainError as exc:
                log.warning("timers of task %s: %s", task_id, exc.message)
            except Exception as exc:
                if is_transient(exc):
                    raise
                self._give_up(task_id, exc)

    def _give_up(self, task_id: str, exc: BaseException) -> None:
        """End the task `failed` because driving it raised `exc`, which retrying would repeat."""
        reason = f"the release engine could not go on: {describe_error(exc)}"
        log.error("task %s: %s; failing the task", task_id, reason, exc_info=exc)
        try:
            self.service.fail(task_id, reason)
        except DomainError as err:  # it ended meanwhile: nothing left to do
            log.warning("task %s: %s", task_id, err.message)
        except Exception as err:
            if is_transient(err):
                raise
            # Retrying would fail the same way, once per pass: leave the task to the operator.
            self._abandoned.add(task_id)
            log.error(
                "task %s: its failure cannot be stored either (%s); this engine stops driving it",
                task_id,
                describe_error(err),
            )

    def _sleep_seconds(self) -> float:
        sleep = min(self.settings.poll_interval, self.settings.lease_seconds / 3)
        with self.db.read() as conn:
            upcoming = task_repo.next_timer_at(conn)
        if upcoming is not None:
            # A floor: a timer that stays due (its task cannot be changed) must not spin the loop.
            sleep = min(sleep, max((upcoming - self.clock.now()).total_seconds(), MIN_SLEEP))
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
        except Exception as exc:
            await self._store(self._give_up, task_id, exc)

    async def _store(self, call: Callable[..., T], *args: object) -> T:
        """Run a blocking store call in a thread; while the database is unavailable, wait with
        backoff and call again (every engine call is safe to repeat), logging the outage once."""
        delay, failures = FIRST_RETRY, 0
        while True:
            try:
                result = await asyncio.to_thread(call, *args)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if failures == 0:
                    log.warning("database unavailable (%s); retrying", describe_error(exc))
                failures += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RETRY)
                continue
            if failures:
                log.info("database available again after %d retries", failures)
            return result

    async def _next_batch(self, task_id: str) -> bool:
        """Deploy the task's next batch; False when there is nothing (more) to do now."""
        task = await self._store(self.service.get_task, task_id)
        batch = task.next_batch()
        if not batch:
            return False
        kind = str(task.spec.executor.get("type"))
        executor = self.executors.for_type(kind)
        if executor is None:
            await self._store(self.service.fail, task_id, f"no executor for {kind!r}")
            return False
        targets = await self._store(self._targets, task, batch)
        await self._store(self.service.dispatch, task_id, batch)
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
                environment=task.spec.environment,
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
                task = await self._store(self.service.record_results, task_id, [report])
                if task.status is not Status.RUNNING:
                    return False
        finally:
            for job in pending:
                job.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        return True
