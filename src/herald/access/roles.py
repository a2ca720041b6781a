"""Who may do what: roles and project scopes of API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from herald.domain.errors import DomainError, NotFound


class Role(StrEnum):
    ADMIN = "admin"  # everything, every project, tokens and audit included
    MAINTAINER = "maintainer"  # read and change the listed projects' tasks and callbacks
    VIEWER = "viewer"  # read the listed projects; secrets masked as everywhere


class Forbidden(DomainError):
    code = "forbidden"


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: Role
    projects: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def visible_projects(self) -> set[str] | None:
        """The projects this caller may see, or None for all of them."""
        return None if self.is_admin else set(self.projects)

    # `project_id` None: the organisation's (organisation rules and destinations): admins only.
    def can_read(self, project_id: str | None) -> bool:
        return self.is_admin or (project_id is not None and project_id in self.projects)

    def can_write(self, project_id: str | None) -> bool:
        return self.is_admin or (
            self.role is Role.MAINTAINER and project_id is not None and project_id in self.projects
        )

    def require_read(self, project_id: str | None, unknown: NotFound) -> None:
        """Raise `unknown` (the answer for a resource that does not exist) unless the caller may
        read `project_id`: a 403 would confirm that the resource exists and name its project."""
        if not self.can_read(project_id):
            raise unknown

    def require_write(self, project_id: str | None, unknown: NotFound) -> None:
        """As `require_read`; a caller who may read but not change the project gets `Forbidden`."""
        self.require_read(project_id, unknown)
        if not self.can_write(project_id):
            raise Forbidden(
                f"token {self.name!r} ({self.role.value}) may not change project {project_id}",
                {"project_id": project_id, "role": self.role.value},
            )

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden(f"only admin tokens may do this; {self.name!r} is {self.role.value}")
