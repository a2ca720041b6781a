"""What a release is made of before it runs: projects, versions, and the task spec with its rules.

`herald.domain.release` re-exports every name here: import from either.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from herald.domain.canary_steps import CanaryStep, resolve
from herald.domain.errors import InvalidInput
from herald.domain.labels import MAX_HOST_LENGTH, is_host_name, is_label
from herald.domain.release_context import ReleaseContext


class TaskType(StrEnum):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    STOP = "stop"


class Strategy(StrEnum):
    CANARY = "canary"
    ROLLING = "rolling"
    BLUE_GREEN = "blue_green"


class Environment:
    """The PRD's environments: the defaults the UI offers. An environment is a free-form label
    (`is_environment`); a project may restrict its tasks to a list (`Project.environments`)."""

    PRODUCTION = "production"
    STAGING = "staging"
    DEVELOPMENT = "development"


DEFAULT_ENVIRONMENTS = (Environment.PRODUCTION, Environment.STAGING, Environment.DEVELOPMENT)
MAX_ENVIRONMENT_LENGTH = 64
MAX_RUN_ID_LENGTH = 128
MAX_PROJECT_ENVIRONMENTS = 20


def is_environment(text: str) -> bool:
    """A label (no control characters, no surrounding spaces) of at most 64 characters."""
    return len(text) <= MAX_ENVIRONMENT_LENGTH and is_label(text)


MAX_HOSTS = 5000


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    description: str
    created_at: dt.datetime
    environments: tuple[str, ...] = ()  # the environments its tasks may use; empty: any
    labels: dict[str, str] = field(default_factory=dict)  # what organisation rules select by

    def check_environment(self, environment: str) -> None:
        """Raise `InvalidInput` unless the project allows `environment`."""
        if self.environments and environment not in self.environments:
            raise InvalidInput(
                f"project {self.name!r} allows the environments "
                f"{', '.join(self.environments)}; not {environment!r}",
                {"field": "environment", "allowed": list(self.environments)},
            )


@dataclass(frozen=True)
class Version:
    id: str
    project_id: str
    name: str
    description: str
    created_at: dt.datetime


@dataclass(frozen=True)
class TaskSpec:
    """Everything a caller chooses when creating a task; validated by `Task.create`."""

    project_id: str
    version_id: str
    type: TaskType
    strategy: Strategy
    environment: str
    hosts: Sequence[str]
    canary_count: int = 0
    batch_size: int = 1
    max_failed: int = 0
    executor: dict[str, Any] = field(default_factory=lambda: {"type": "external"})
    auto_promote_after: float | None = None
    long_running_after: float | None = None
    rollback_of: str | None = None
    context: ReleaseContext = field(default_factory=lambda: ReleaseContext())
    canary_steps: tuple[CanaryStep, ...] = ()  # empty: one step of `canary_count` hosts
    run_id: str | None = None  # the external system's run id, unique within the project


def validate_spec(spec: TaskSpec) -> None:
    """Raise `InvalidInput` naming the first rule `spec` breaks."""
    validate_environment(spec.environment)
    if spec.run_id is not None and not (
        len(spec.run_id) <= MAX_RUN_ID_LENGTH and is_label(spec.run_id)
    ):
        raise InvalidInput(
            f"run_id must be 1-{MAX_RUN_ID_LENGTH} characters, without control characters or "
            "surrounding spaces",
            {"field": "run_id"},
        )
    hosts = list(spec.hosts)
    if not hosts:
        raise InvalidInput("hosts must list at least one host")
    if len(hosts) > MAX_HOSTS:
        raise InvalidInput(f"a task may deploy at most {MAX_HOSTS} hosts, got {len(hosts)}")
    bad = [h for h in hosts if not is_host_name(h)]
    if bad:
        raise InvalidInput(
            f"host names must be 1-{MAX_HOST_LENGTH} characters, without control characters or "
            "surrounding spaces",
            {"hosts": bad[:10]},
        )
    dupes = sorted({h for h, n in Counter(hosts).items() if n > 1})
    if dupes:
        raise InvalidInput("hosts must not repeat", {"duplicates": dupes[:10]})
    _validate_numbers(spec, len(hosts))


def validate_environment(environment: str) -> None:
    """Raise `InvalidInput` unless `environment` is a label of at most 64 characters."""
    if not is_environment(environment):
        raise InvalidInput(
            f"environment must be 1-{MAX_ENVIRONMENT_LENGTH} characters, without control "
            "characters or surrounding spaces",
            {"field": "environment"},
        )


def _validate_numbers(spec: TaskSpec, host_count: int) -> None:
    if spec.canary_steps:
        _validate_steps(spec, host_count)
    elif spec.strategy is Strategy.CANARY:
        if not 1 <= spec.canary_count < host_count:
            raise InvalidInput(
                f"canary_count must be at least 1 and less than the number of hosts "
                f"({host_count}), got {spec.canary_count}"
            )
    elif spec.canary_count:
        raise InvalidInput(
            f"canary_count applies to the canary strategy only, not {spec.strategy.value}"
        )
    if spec.batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {spec.batch_size}")
    if spec.max_failed < 0:
        raise InvalidInput(f"max_failed must be 0 or more, got {spec.max_failed}")
    if spec.auto_promote_after is not None and spec.auto_promote_after < 0:
        raise InvalidInput("auto_promote_after must be 0 or more seconds")
    if spec.auto_promote_after is not None and spec.strategy is not Strategy.CANARY:
        raise InvalidInput("auto_promote_after applies to the canary strategy only")
    if spec.long_running_after is not None and spec.long_running_after <= 0:
        raise InvalidInput("long_running_after must be more than 0 seconds")


def _validate_steps(spec: TaskSpec, host_count: int) -> None:
    if spec.strategy is not Strategy.CANARY:
        raise InvalidInput(
            f"canary_steps apply to the canary strategy only, not {spec.strategy.value}"
        )
    last = resolve(spec.canary_steps, host_count)[-1]
    if spec.canary_count not in (0, last):
        raise InvalidInput(
            f"canary_count ({spec.canary_count}) must be left out with canary_steps, or equal "
            f"the last step's {last} hosts"
        )
