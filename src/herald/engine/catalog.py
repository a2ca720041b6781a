"""Projects and versions use cases: create, look up by id or name, rename, restrict, delete.

Deletion policy: a project with an active task cannot be deleted (409); nor can one with any
task at all, because a task is release history (events, deliveries, the audit log) and history
is never deleted. A project without tasks is deleted with its versions and its callback configs
(their unsent test deliveries are cancelled), destinations, inbound sources and mute windows; audit entries and delivery history of test sends
stay, naming the project's id. To retire a project with history, rename it or restrict it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from herald.access.roles import Principal
from herald.domain.errors import Conflict, InvalidInput, StoreConflict, missing
from herald.domain.ids import new_id
from herald.domain.release import (
    ACTIVE,
    MAX_PROJECT_ENVIRONMENTS,
    Project,
    Version,
    validate_environment,
)
from herald.runtime.clock import Clock
from herald.store import audit_repo as audit
from herald.store import config_repo, task_repo
from herald.store import project_repo as repo
from herald.store.db import Database, UnitOfWork
from herald.store.delivery_state import cancel_pending_for_channels


@dataclass(frozen=True)
class ProjectChange:
    """What `PATCH /projects/{id}` asks to change; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    environments: Sequence[str] | None = None


def clean_environments(environments: Sequence[str]) -> tuple[str, ...]:
    """Validated, in the given order, without repeats; `InvalidInput` names the first bad one."""
    if len(environments) > MAX_PROJECT_ENVIRONMENTS:
        raise InvalidInput(
            f"a project may list at most {MAX_PROJECT_ENVIRONMENTS} environments",
            {"field": "environments"},
        )
    for env in environments:
        validate_environment(env)
    return tuple(dict.fromkeys(environments))


def _describe(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "description": project.description,
        "environments": list(project.environments),
    }


class Catalog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create_project(
        self, name: str, description: str, environments: Sequence[str] = ()
    ) -> Project:
        project = Project(
            new_id(), name, description, self.clock.now(), clean_environments(environments)
        )
        with self.db.transaction() as uow:
            repo.insert_project(uow.conn, project)
        return project

    def ensure_project(self, name: str) -> Project:
        """The project named `name`, created (without description) if there is none."""
        for _ in range(3):
            with self.db.read() as conn:
                found = repo.project_by_name(conn, name)
            if found is not None:
                return found
            try:
                return self.create_project(name, "")
            except (Conflict, StoreConflict):
                continue  # created concurrently: read it
        raise Conflict(f"project {name!r} keeps changing; try again")

    def get_project(self, project_id: str) -> Project:
        with self.db.read() as conn:
            return repo.get_project(conn, project_id)

    def project_by_name(self, name: str) -> Project:
        """The project named `name`; `NotFound` (field `project`) if there is none."""
        with self.db.read() as conn:
            found = repo.project_by_name(conn, name)
        if found is None:
            raise missing("project", "project", name)
        return found

    def find_project(self, name_or_id: str) -> Project:
        """The project with this name, else the one with this id."""
        with self.db.read() as conn:
            found = repo.project_by_name(conn, name_or_id)
            return found if found is not None else repo.get_project(conn, name_or_id)

    def set_labels(
        self, project_id: str, labels: dict[str, str], actor: Principal | None
    ) -> Project:
        """Replace the project's labels (which organisation rules reach it); audited."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            before = repo.get_project(uow.conn, project_id)
            repo.set_labels(uow.conn, project_id, labels, now)
            audit.record(
                uow.conn,
                actor,
                action="project.labels",
                resource_type="project",
                resource_id=project_id,
                project_id=project_id,
                before={"labels": before.labels},
                after={"labels": labels},
                at=now,
            )
            return repo.get_project(uow.conn, project_id)

    def list_projects(self, ids: set[str] | None, after: str | None, limit: int) -> list[Project]:
        with self.db.read() as conn:
            return repo.list_projects(conn, ids=ids, after=after, limit=limit)

    def update_project(
        self, project_id: str, change: ProjectChange, actor: Principal | None = None
    ) -> Project:
        with self.db.transaction() as uow:
            before = repo.get_project(uow.conn, project_id)
            after = replace(
                before,
                name=before.name if change.name is None else change.name,
                description=(
                    before.description if change.description is None else change.description
                ),
                environments=(
                    before.environments
                    if change.environments is None
                    else clean_environments(change.environments)
                ),
            )
            repo.update_project(uow.conn, after, self.clock.now())
            self._audit(uow, actor, "project.update", after, _describe(before), _describe(after))
        return after

    def delete_project(self, project_id: str, actor: Principal | None = None) -> None:
        """Delete a project without tasks (see the module's deletion policy)."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            project = repo.get_project(uow.conn, project_id)
            active = task_repo.count_tasks(uow.conn, project_id, [s.value for s in ACTIVE])
            if active:
                raise Conflict(
                    f"project {project.name!r} has {active} active task(s); stop or finish "
                    "them before deleting it",
                    {"active_tasks": active},
                )
            tasks = task_repo.count_tasks(uow.conn, project_id)
            if tasks:
                raise Conflict(
                    f"project {project.name!r} has {tasks} task(s) of release history, which "
                    "Herald keeps; rename the project (or restrict its environments) instead",
                    {"tasks": tasks},
                )
            for config_id in repo.project_config_ids(uow.conn, project_id):
                channels = {ch.id for ch in config_repo.get_config(uow.conn, config_id).channels}
                config_repo.delete_config(uow.conn, config_id)
                cancel_pending_for_channels(uow.conn, config_id, channels, "project deleted", now)
            repo.delete_project(uow.conn, project_id)
            self._audit(uow, actor, "project.delete", project, _describe(project), None)

    def create_version(self, project_id: str, name: str, description: str) -> Version:
        """A new version; `Conflict` (details: the existing `version_id`) if the name is taken."""
        version = Version(new_id(), project_id, name, description, self.clock.now())
        with self.db.transaction() as uow:
            repo.get_project(uow.conn, project_id)
            repo.insert_version(uow.conn, version)
        return version

    def ensure_version(
        self, project_id: str, name: str, description: str = ""
    ) -> tuple[Version, bool]:
        """The project's version named `name`, created if missing; and whether it was created.

        Two callers racing to create the same name both get the one version.
        """
        for _ in range(3):
            with self.db.read() as conn:
                repo.get_project(conn, project_id)
                found = repo.version_by_name(conn, project_id, name)
            if found is not None:
                return found, False
            try:
                return self.create_version(project_id, name, description), True
            except (Conflict, StoreConflict):
                continue  # created concurrently: read it
        raise Conflict(f"version {name!r} keeps changing; try again")

    def list_versions(self, project_id: str, after: str | None, limit: int) -> list[Version]:
        with self.db.read() as conn:
            repo.get_project(conn, project_id)
            return repo.list_versions(conn, project_id, after=after, limit=limit)

    def _audit(
        self,
        uow: UnitOfWork,
        actor: Principal | None,
        action: str,
        project: Project,
        before: Any,
        after: Any,
    ) -> None:
        audit.record(
            uow.conn,
            actor,
            action=action,
            resource_type="project",
            resource_id=project.id,
            project_id=project.id,
            before=before,
            after=after,
            at=self.clock.now(),
        )
