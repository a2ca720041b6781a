"""Projects and versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.errors import Conflict, missing
from herald.domain.release import Project, Version
from herald.store.tables import (
    callback_configs,
    destinations,
    inbound_sources,
    mutes,
    projects,
    versions,
)


def _project(row: Any) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        environments=tuple(row.environments or ()),
        labels=dict(row.labels or {}),
    )


def _version(row: Any) -> Version:
    return Version(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
    )


def insert_project(conn: Connection, project: Project) -> None:
    if conn.execute(sa.select(projects.c.id).where(projects.c.name == project.name)).first():
        raise Conflict(f"a project named {project.name!r} already exists", {"name": project.name})
    conn.execute(
        projects.insert().values(
            id=project.id,
            name=project.name,
            description=project.description,
            created_at=project.created_at,
            updated_at=project.created_at,
            environments=list(project.environments),
            labels=project.labels,
        )
    )


def update_project(conn: Connection, project: Project, now: dt.datetime) -> None:
    """Write the project's name, description and environments; `Conflict` if the name is taken."""
    clash = conn.execute(
        sa.select(projects.c.id).where(projects.c.name == project.name, projects.c.id != project.id)
    ).first()
    if clash:
        raise Conflict(f"a project named {project.name!r} already exists", {"name": project.name})
    conn.execute(
        projects.update()
        .where(projects.c.id == project.id)
        .values(
            name=project.name,
            description=project.description,
            environments=list(project.environments),
            updated_at=now,
        )
    )


def project_config_ids(conn: Connection, project_id: str) -> list[str]:
    query = sa.select(callback_configs.c.id).where(callback_configs.c.project_id == project_id)
    return [str(r.id) for r in conn.execute(query)]


def delete_project(conn: Connection, project_id: str) -> None:
    """Delete the project with its versions, destinations, inbound sources and mute windows.
    The caller has deleted its callback configs and made sure no task refers to it."""
    conn.execute(versions.delete().where(versions.c.project_id == project_id))
    conn.execute(destinations.delete().where(destinations.c.project_id == project_id))
    conn.execute(inbound_sources.delete().where(inbound_sources.c.project_id == project_id))
    conn.execute(mutes.delete().where(mutes.c.project_id == project_id))
    conn.execute(projects.delete().where(projects.c.id == project_id))


def project_by_name(conn: Connection, name: str) -> Project | None:
    row = conn.execute(sa.select(projects).where(projects.c.name == name)).first()
    return None if row is None else _project(row)


def version_by_name(conn: Connection, project_id: str, name: str) -> Version | None:
    row = conn.execute(
        sa.select(versions).where(versions.c.project_id == project_id, versions.c.name == name)
    ).first()
    return None if row is None else _version(row)


def set_labels(conn: Connection, project_id: str, labels: dict[str, str], now: Any) -> None:
    conn.execute(
        projects.update().where(projects.c.id == project_id).values(labels=labels, updated_at=now)
    )


_PROJECT = sa.select(projects).where(projects.c.id == sa.bindparam("project_id"))
_VERSION = sa.select(versions).where(versions.c.id == sa.bindparam("version_id"))


def get_project(conn: Connection, project_id: str) -> Project:
    row = conn.execute(_PROJECT, {"project_id": project_id}).first()
    if row is None:
        raise missing("project", "project_id", project_id)
    return _project(row)


def list_projects(
    conn: Connection, *, ids: set[str] | None, after: str | None, limit: int
) -> list[Project]:
    query = sa.select(projects).order_by(projects.c.id).limit(limit)
    if ids is not None:
        query = query.where(projects.c.id.in_(sorted(ids)))
    if after:
        query = query.where(projects.c.id > after)
    return [_project(r) for r in conn.execute(query)]


def insert_version(conn: Connection, version: Version) -> None:
    clash = conn.execute(
        sa.select(versions.c.id).where(
            versions.c.project_id == version.project_id, versions.c.name == version.name
        )
    ).first()
    if clash:
        raise Conflict(
            f"project {version.project_id} already has a version named {version.name!r}",
            {"name": version.name, "version_id": clash.id},
        )
    conn.execute(
        versions.insert().values(
            id=version.id,
            project_id=version.project_id,
            name=version.name,
            description=version.description,
            created_at=version.created_at,
        )
    )


def get_version(conn: Connection, version_id: str) -> Version:
    row = conn.execute(_VERSION, {"version_id": version_id}).first()
    if row is None:
        raise missing("version", "version_id", version_id)
    return _version(row)


def list_versions(
    conn: Connection, project_id: str, *, after: str | None, limit: int
) -> list[Version]:
    query = (
        sa.select(versions)
        .where(versions.c.project_id == project_id)
        .order_by(versions.c.id.desc())
        .limit(limit)
    )
    if after:
        query = query.where(versions.c.id < after)
    return [_version(r) for r in conn.execute(query)]
