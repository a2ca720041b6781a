"""Projects and versions use cases."""

from __future__ import annotations

from herald.access.roles import Principal
from herald.domain.ids import new_id
from herald.domain.release import Project, Version
from herald.runtime.clock import Clock
from herald.store import audit_repo as audit
from herald.store import project_repo as repo
from herald.store.db import Database


class Catalog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create_project(self, name: str, description: str) -> Project:
        project = Project(new_id(), name, description, self.clock.now())
        with self.db.transaction() as uow:
            repo.insert_project(uow.conn, project)
        return project

    def get_project(self, project_id: str) -> Project:
        with self.db.read() as conn:
            return repo.get_project(conn, project_id)

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

    def create_version(self, project_id: str, name: str, description: str) -> Version:
        version = Version(new_id(), project_id, name, description, self.clock.now())
        with self.db.transaction() as uow:
            repo.get_project(uow.conn, project_id)
            repo.insert_version(uow.conn, version)
        return version

    def list_versions(self, project_id: str, after: str | None, limit: int) -> list[Version]:
        with self.db.read() as conn:
            repo.get_project(conn, project_id)
            return repo.list_versions(conn, project_id, after=after, limit=limit)
