"""Bounded primitive shapes shared by API requests and service inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from herald.domain.labels import LABEL_PATTERN, is_label


def _label(text: str) -> str:
    if not is_label(text):
        raise ValueError("must not contain control characters or start or end with a space")
    return text


# Labels: the pattern is documented for clients; the check gives the message a person can act on.
_IS_LABEL = AfterValidator(_label)
Name = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra={"pattern": LABEL_PATTERN}),
    _IS_LABEL,
]
VersionName = Annotated[
    str,
    Field(min_length=1, max_length=128, json_schema_extra={"pattern": LABEL_PATTERN}),
    _IS_LABEL,
]
EnvironmentName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": LABEL_PATTERN, "examples": ["production", "staging"]},
        description="a free-form label; production, staging and development are the defaults",
    ),
    _IS_LABEL,
]
RunId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        json_schema_extra={"pattern": LABEL_PATTERN},
        description="the external system's run id, unique within the project",
    ),
    _IS_LABEL,
]
Description = Annotated[str, Field(max_length=2000)]
# Project labels, e.g. {"tier": "production", "team": "支付"}: what organisation rules select by.
LabelKey = Annotated[
    str,
    Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$"),
]
LabelValue = Annotated[
    str, Field(max_length=100, json_schema_extra={"pattern": LABEL_PATTERN}), _IS_LABEL
]
ProjectLabels = Annotated[dict[LabelKey, LabelValue], Field(max_length=20)]
ResourceId = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[0-9a-zA-Z-]+$")]


def _json_integer(value: Any) -> Any:
    # JSON (and JSON Schema) has numbers, and 3.0 is the integer 3; but "3" is text and true is
    # a boolean, which lax validation would turn into numbers behind the caller's back.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An integer as JSON means it: 3 or 3.0, never "3" or true (1.5 stays an error).
JsonInt = Annotated[int, BeforeValidator(_json_integer)]


class Strict(BaseModel):
    """Request bodies: unknown fields are errors, so typos surface instead of being ignored."""

    model_config = ConfigDict(extra="forbid")


def validation_message(error: Mapping[str, Any]) -> str:
    """pydantic's message for one error, without the "Value error, " it puts before the texts of
    Herald's own checks (they are written to be read as they are)."""
    message = str(error.get("msg", ""))
    return message.removeprefix("Value error, ") if error.get("type") == "value_error" else message
