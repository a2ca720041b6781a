"""Projects, versions, tasks and their events."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from herald.api.schemas.common_schemas import Description, Name, ResourceId, Strict, VersionName
from herald.domain.labels import LABEL_PATTERN, MAX_HOST_LENGTH
from herald.domain.release import MAX_PROJECT_ENVIRONMENTS, Strategy, TaskType
from herald.domain.shapes import EnvironmentName, RunId
from herald.engine.executor_specs import ExecutorConfig, ExternalExecutor

# The pattern and the list bounds below are documented for clients; the domain enforces them with
# messages that name the rule (see herald.domain.release.validate_spec).
Host = Annotated[
    str,
    Field(min_length=1, max_length=MAX_HOST_LENGTH, json_schema_extra={"pattern": LABEL_PATTERN}),
]


Environments = Annotated[
    list[EnvironmentName],
    Field(
        max_length=MAX_PROJECT_ENVIRONMENTS,
        description="the environments the project's tasks may use; empty: any",
    ),
]


class ProjectCreate(Strict):
    name: Name
    description: Description = ""
    environments: Environments = Field(default_factory=list)


class ProjectUpdate(Strict):
    """Fields left out stay as they are."""

    name: Name | None = None
    description: Description | None = None
    environments: Environments | None = None


class ProjectOut(BaseModel):
    id: str
    name: str
    description: str
    created_at: dt.datetime
    environments: list[str] = Field(description="allowed environments; empty: any")
    labels: dict[str, str] = Field(
        default_factory=dict, description="what organisation rules select projects by"
    )


class VersionCreate(Strict):
    name: VersionName
    description: Description = ""


class VersionPut(Strict):
    """The body of `PUT .../versions/{name}` (optional): the description, if created."""

    description: Description = ""


class VersionOut(BaseModel):
    id: str
    project_id: str
    name: str
    description: str
    created_at: dt.datetime


class CanaryStepIn(Strict):
    """One step of a multi-step canary: a traffic weight and/or a cumulative host count."""

    weight: int | None = Field(default=None, ge=1, le=100, description="percent, cumulative")
    hosts: int | None = Field(
        default=None, ge=1, le=5000, description="hosts on the new version once the step is done"
    )


class TaskCreate(Strict):
    """The project by `project_id` or by name (`project`), the version by `version_id` or by
    name (`version`: created if the project has no such version yet)."""

    project_id: ResourceId | None = None
    project: Name | None = Field(default=None, description="the project's name")
    version_id: ResourceId | None = None
    version: VersionName | None = Field(
        default=None, description="the version's name; created if missing"
    )
    type: TaskType = TaskType.DEPLOY
    strategy: Strategy
    environment: EnvironmentName
    hosts: list[Host] = Field(
        max_length=5000, json_schema_extra={"minItems": 1, "uniqueItems": True}
    )
    canary_count: int = Field(default=0, ge=0, le=5000)
    batch_size: int = Field(default=1, ge=1, le=5000)
    max_failed: int = Field(default=0, ge=0, le=5000, description="failed hosts tolerated")
    executor: ExecutorConfig = Field(default_factory=lambda: ExternalExecutor(type="external"))
    auto_promote_after: float | None = Field(
        default=None, ge=0, le=7 * 86400, description="seconds in awaiting_promotion, then promote"
    )
    long_running_after: float | None = Field(
        default=None, gt=0, le=30 * 86400, description="seconds after start that emit long_running"
    )
    canary_steps: list[CanaryStepIn] | None = Field(
        default=None,
        max_length=20,
        description="a multi-step canary (Argo Rollouts setWeight, Flagger stepWeight); "
        "canary_count then follows from the last step",
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="the release context: operator, commit, ref, pipeline_url, "
        "links [{title, url}], changelog, labels {key: value}",
    )
    run_id: RunId | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> TaskCreate:
        for by_id, by_name in (("project_id", "project"), ("version_id", "version")):
            given = [f for f in (by_id, by_name) if getattr(self, f) is not None]
            if len(given) != 1:
                raise ValueError(f"give exactly one of {by_id} and {by_name}")
        return self


class HostResultIn(Strict):
    host: Host
    status: Literal["success", "failed"]
    exit_code: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    output: str = Field(default="", max_length=65536)


class StepReport(Strict):
    index: int = Field(ge=1, le=20, description="the canary step that is done, from 1")


class TaskReport(Strict):
    results: list[HostResultIn] = Field(default_factory=list, max_length=5000)
    step: StepReport | None = Field(
        default=None, description="a multi-step canary's step is done (its hosts succeeded)"
    )
    status: Literal["running", "awaiting_promotion", "success", "failed", "stopped"] | None = None
    reason: str | None = Field(default=None, max_length=1000)


class StopRequest(Strict):
    reason: str | None = Field(default=None, max_length=1000)


class HostResultOut(BaseModel):
    host: str
    status: str = Field(
        description="pending, running, success, failed; cancelled or skipped once the task "
        "ended without deploying the host"
    )
    exit_code: int | None
    output: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class Counts(BaseModel):
    """Hosts per status. `cancelled` and `skipped` are final statuses of hosts whose task
    stopped or failed while they were deploying or before they started."""

    total: int
    pending: int
    running: int
    success: int
    failed: int
    cancelled: int
    skipped: int


class TaskSummary(BaseModel):
    id: str
    project_id: str
    version_id: str
    type: str
    strategy: str
    environment: str
    status: str
    phase: str | None
    reason: str | None
    counts: Counts
    rollback_of: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    run_id: str | None = Field(description="the external run id, if the task has one")


class CanaryStepOut(BaseModel):
    index: int
    weight: int | None
    hosts: int = Field(description="hosts on the new version once the step is done")
    done: bool


class TaskOut(TaskSummary):
    context: dict[str, Any] = Field(description="the release context; {} when none")
    hosts: list[str]
    canary_count: int
    canary_steps: list[CanaryStepOut] = Field(
        default_factory=list, description="the canary's steps (one for a single-step canary)"
    )
    batch_size: int
    max_failed: int
    executor: dict[str, Any]
    auto_promote_after: float | None
    long_running_after: float | None
    duration: str
    duration_seconds: float
    host_results: list[HostResultOut]


class EventOut(BaseModel):
    id: str
    task_id: str
    event_type: str
    payload: dict[str, Any] = Field(description="the PRD §3.3 standard callback message")
    created_at: dt.datetime
