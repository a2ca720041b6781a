"""Shapes shared by every resource."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from herald.domain.shapes import Description, Name, ResourceId, Strict, VersionName

T = TypeVar("T")

__all__ = ["Description", "Name", "ResourceId", "Strict", "VersionName"]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "malformed request",
        401: "missing or unknown token",
        403: "the token may not do this",
        404: "no such resource",
        409: "conflicts with the current state",
        413: "request body too large",
        422: "invalid field values",
        503: "database unavailable, or stored secrets unreadable with the configured keys",
    }.items()
}
