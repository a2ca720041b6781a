"""What a task's `executor` field may say. Commands are named, never given: the operator defines
them in Herald's configuration, so an API token never amounts to shell access."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from herald.domain.errors import InvalidInput
from herald.runtime.settings import CommandSpec


class SimulatedExecutor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["simulated"]
    host_seconds: float = Field(default=0.1, ge=0, le=3600)
    fail_hosts: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=list, max_length=5000
    )


class CommandExecutor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["command"]
    name: str = Field(min_length=1, max_length=100)


class ExternalExecutor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["external"]


ExecutorConfig = Annotated[
    SimulatedExecutor | CommandExecutor | ExternalExecutor, Field(discriminator="type")
]
_adapter: TypeAdapter[SimulatedExecutor | CommandExecutor | ExternalExecutor] = TypeAdapter(
    ExecutorConfig
)


def parse_executor(
    raw: Mapping[str, Any], commands: Mapping[str, CommandSpec]
) -> SimulatedExecutor | CommandExecutor | ExternalExecutor:
    """Validate `raw`; `InvalidInput` with a message naming the problem otherwise."""
    try:
        executor = _adapter.validate_python(dict(raw))
    except ValidationError as exc:
        kind = raw.get("type")
        if kind not in ("simulated", "command", "external"):
            raise InvalidInput(
                f"unknown executor type {kind!r}; use one of: simulated, command, external",
                {"field": "executor.type"},
            ) from None
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "executor"
        raise InvalidInput(
            f"executor.{where}: {first['msg']}", {"field": f"executor.{where}"}
        ) from None
    if isinstance(executor, CommandExecutor) and executor.name not in commands:
        known = ", ".join(sorted(commands)) or "none are configured"
        raise InvalidInput(
            f"unknown command {executor.name!r}; the operator defines commands in Herald's "
            f"configuration (HERALD_COMMANDS or the config file); known: {known}",
            {"field": "executor.name"},
        )
    return executor
