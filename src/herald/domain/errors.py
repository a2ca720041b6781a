"""Domain errors. Each carries a stable machine code; the API maps the class to an HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """The named resource does not exist (or the caller may not know it exists)."""

    code = "not_found"


def missing(kind: str, key: str, resource_id: str) -> NotFound:
    """The one answer for an unknown resource, also given for one the caller may not see."""
    return NotFound(f"{kind} {resource_id} does not exist", {key: resource_id})


class IllegalTransition(DomainError):
    """A state change that the task's current state does not allow."""

    code = "illegal_transition"


class Conflict(DomainError):
    """The request clashes with stored state (duplicate name, concurrent change)."""

    code = "conflict"


class InvalidInput(DomainError):
    """Input that is well-formed but violates a domain rule."""

    code = "invalid_input"


class StoreError(Exception):
    """The store could not do the work. `herald.store` raises these in place of its driver's
    errors (kept as `__cause__`, named by `driver_error`), so no layer above it needs to know
    the database library. Not a `DomainError`: nothing in the request broke a domain rule."""

    def __init__(self, message: str, driver_error: str) -> None:
        super().__init__(message)
        self.driver_error = driver_error


class StoreConflict(StoreError):
    """A write broke a unique or foreign-key constraint, usually through a concurrent change."""


class StoreUnavailable(StoreError):
    """The database cannot be reached, is busy, or refused the statement for now."""
