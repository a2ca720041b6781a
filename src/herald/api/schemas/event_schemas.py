"""`POST /events`: one event of a release Herald did not run (a CD pipeline's, a webhook's)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from herald.api.schemas.common_schemas import Name, ResourceId, Strict, VersionName
from herald.api.schemas.release_schemas import Host, TaskOut
from herald.domain.release import Strategy, TaskType
from herald.domain.release_context import normalise_context
from herald.domain.shapes import EnvironmentName, RunId
from herald.engine.external_events import ExternalEvent, Progress, Step

EventName = Literal[
    "canary_started",
    "canary_step",
    "canary_completed",
    "full_completed",
    "rollout_started",
    "rollback_started",
    "rollback_completed",
    "task_failed",
    "task_stopped",
]
Count = Field(default=None, ge=0, le=100000)


class StepIn(Strict):
    index: int = Field(ge=1, le=1000, description="this step's number, from 1")
    total: int = Field(ge=1, le=1000, description="how many steps the canary has")
    weight: int | None = Field(default=None, ge=0, le=100, description="traffic percent")

    @model_validator(mode="after")
    def _within(self) -> StepIn:
        if self.index > self.total:
            raise ValueError(f"step.index ({self.index}) must not exceed step.total ({self.total})")
        return self


class ProgressIn(Strict):
    total: int | None = Count
    canary: int | None = Count
    completed: int | None = Count
    failed: int | None = Count


class ExternalEventIn(Strict):
    """One event of an external run. The project by name (`project`) or id (`project_id`);
    the version by name, created if missing. The first event of a run creates its task and
    needs `version` and `environment`; later events may leave them out."""

    project: Name | None = None
    project_id: ResourceId | None = None
    version: VersionName | None = None
    environment: EnvironmentName | None = None
    type: Literal["deploy", "rollback"] = "deploy"
    strategy: Strategy | None = Field(
        default=None, description="default: canary for canary_* events, else rolling"
    )
    run_id: RunId
    event: EventName
    step: StepIn | None = Field(default=None, description="for canary_step")
    progress: ProgressIn = Field(default_factory=ProgressIn)
    hosts: list[Host] = Field(default_factory=list, max_length=5000)
    failed_hosts: list[Host] = Field(default_factory=list, max_length=5000)
    reason: str | None = Field(default=None, max_length=1000)
    context: dict[str, Any] = Field(default_factory=dict, description="the release context")
    occurred_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_project(self) -> ExternalEventIn:
        if (self.project is None) == (self.project_id is None):
            raise ValueError("give exactly one of project and project_id")
        if self.event == "canary_step" and self.step is None:
            raise ValueError("canary_step needs step: {index, total, weight}")
        return self

    def to_event(self, project_id: str) -> ExternalEvent:
        """The engine's input, for the project the caller resolved."""
        step = self.step
        p = self.progress
        return ExternalEvent(
            project_id=project_id,
            run_id=self.run_id,
            event=self.event,
            version=self.version,
            environment=self.environment,
            type=TaskType(self.type),
            strategy=self.strategy,
            step=Step(step.index, step.total, step.weight) if step else None,
            progress=Progress(p.total, p.canary, p.completed, p.failed),
            hosts=tuple(self.hosts),
            failed_hosts=tuple(self.failed_hosts),
            reason=self.reason,
            context=normalise_context(self.context),
            occurred_at=self.occurred_at,
        )


class ExternalEventOut(BaseModel):
    task_id: str
    event_id: str | None = Field(description="the Herald event announced; null if none")
    event_type: str
    duplicate: bool = Field(description="true: this event was applied before; nothing changed")
    task: TaskOut
