"""The answer for an id that names nothing the caller may see: 404, as for an unknown id.

A resource of a project the token may not read is answered exactly as if it did not exist
(`Principal.require_read`), so ids reveal neither that a resource exists nor its project. The
texts match the stores' own answers for unknown ids.
"""

from __future__ import annotations

from herald.domain.errors import NotFound, missing


def project(project_id: str) -> NotFound:
    return missing("project", "project_id", project_id)


def task(task_id: str) -> NotFound:
    return missing("task", "task_id", task_id)


def config(config_id: str) -> NotFound:
    return missing("callback config", "config_id", config_id)


def delivery(delivery_id: str) -> NotFound:
    return missing("delivery", "delivery_id", delivery_id)


def destination(destination_id: str) -> NotFound:
    return missing("destination", "destination_id", destination_id)
