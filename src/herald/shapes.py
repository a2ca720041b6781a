"""Bounded primitive shapes shared by API requests and service inputs."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]
Description = Annotated[str, Field(max_length=2000)]
ResourceId = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[0-9a-zA-Z-]+$")]


class Strict(BaseModel):
    """Request bodies: unknown fields are errors, so typos surface instead of being ignored."""

    model_config = ConfigDict(extra="forbid")
