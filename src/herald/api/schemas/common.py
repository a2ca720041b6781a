"""Shapes shared by every resource."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=False, min_length=1, max_length=100, pattern=r"^\S(.*\S)?$"),
]
Description = Annotated[str, Field(max_length=2000)]
ResourceId = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[0-9a-zA-Z-]+$")]


class Strict(BaseModel):
    """Request bodies: unknown fields are errors, so typos surface instead of being ignored."""

    model_config = ConfigDict(extra="forbid")


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
    }.items()
}
