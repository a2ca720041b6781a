"""Argo CD Notifications and Argo Rollouts notifications, through their webhook service.

Argo signs nothing, so the source's secret travels as `Authorization: Bearer <secret>` (the
service's `headers`, with the value taken from the notifications Secret as `$herald-token`),
compared in constant time; use TLS. The body is the JSON that docs/integrations.md's templates
render (`"source": "argocd"` or `"argo-rollouts"`); the event name is the subscription's
recipient (`.recipient`), because Argo passes no trigger name to a template.

Argo CD: `app-sync-running` → `rollout_started`, `app-deployed` → `full_completed`,
`app-sync-failed` and `app-health-degraded` → `task_failed`; run id
`argocd-<app>-<revision>`.
Argo Rollouts: `rollout-updated` → `canary_started` (blue-green: `rollout_started`),
`rollout-step-completed` → `canary_step`, `rollout-paused` on the last step →
`canary_completed` (awaiting promotion; a pause between steps announces nothing),
`rollout-completed` → `full_completed`, `rollout-aborted` and `analysis-run-failed` →
`task_failed`; run id `argo-rollouts-<namespace>-<rollout>-<pod hash>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.inbound.inbound_types import (
    Refused,
    Translation,
    context,
    iso,
    malformed,
    same_secret,
    text,
    unauthorised,
)

KIND = "argo"
_APP_EVENTS = {
    "app-sync-running": "rollout_started",
    "app-deployed": "full_completed",
    "app-sync-failed": "task_failed",
    "app-health-degraded": "task_failed",
}
_ROLLOUT_EVENTS = {
    "rollout-updated": "started",
    "rollout-step-completed": "canary_step",
    "rollout-paused": "paused",
    "rollout-completed": "full_completed",
    "rollout-aborted": "task_failed",
    "analysis-run-failed": "task_failed",
}


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise `Refused` (401) unless `Authorization: Bearer <secret>` is sent."""
    del body  # Argo's webhook service sends a static header, no signature
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise unauthorised(
            "missing 'Authorization: Bearer <secret>': add it to the service.webhook headers"
        )
    if not same_secret(given.strip(), secret):
        raise unauthorised("the bearer secret is not the source's secret")


def translate(headers: Mapping[str, str], payload: Mapping[str, Any]) -> Translation:
    """The release event announced by one rendered Argo notification."""
    del headers
    origin = payload.get("source")
    name = text(payload, "event", required=True) or ""
    if origin == "argocd":
        return _application(name, payload)
    if origin == "argo-rollouts":
        return _rollout(name, payload)
    raise Refused(
        400,
        "unsupported_event",
        f"source {origin!r} is not handled: render the templates of docs/integrations.md "
        "('source' is argocd or argo-rollouts)",
    )


def _unknown(name: str, known: Mapping[str, str]) -> Refused:
    return Refused(
        400,
        "unsupported_event",
        f"event {name!r} is not handled: use one of {', '.join(sorted(known))} as the recipient",
    )


def _application(name: str, payload: Mapping[str, Any]) -> Translation:
    event = _APP_EVENTS.get(name)
    if event is None:
        raise _unknown(name, _APP_EVENTS)
    app = text(payload, "app", required=True)
    revision = text(payload, "revision") or "unknown"
    body: dict[str, Any] = {
        "version": text(payload, "version") or revision[:12],
        "environment": text(payload, "environment") or "production",
        "type": "deploy",
        "strategy": "rolling",
        "run_id": f"argocd-{app}-{revision}"[:128],
        "event": event,
        "context": context(
            operator=text(payload, "initiatedBy"),
            commit=revision if revision != "unknown" else None,
            pipeline_url=text(payload, "url"),
            labels=context(application=app, health=text(payload, "health")),
        ),
    }
    if event == "task_failed":
        body["reason"] = text(payload, "message") or f"{name} ({text(payload, 'health') or '?'})"
    occurred = iso(text(payload, "finishedAt"))
    if occurred and event != "rollout_started":
        body["occurred_at"] = occurred
    return Translation(name, body, delivery_key=f"{app}:{name}:{revision}")


def _step(payload: Mapping[str, Any]) -> tuple[int, int]:
    step, steps = payload.get("step"), payload.get("steps")
    if not isinstance(step, int) or not isinstance(steps, int) or isinstance(step, bool):
        raise malformed("step and steps must be integers (see the template in the docs)")
    return step, steps


def _rollout(name: str, payload: Mapping[str, Any]) -> Translation:
    kind = _ROLLOUT_EVENTS.get(name)
    if kind is None:
        raise _unknown(name, _ROLLOUT_EVENTS)
    rollout = text(payload, "rollout", required=True)
    namespace = text(payload, "namespace") or "default"
    pod_hash = text(payload, "podHash") or "unknown"
    blue_green = payload.get("blueGreen") is True
    step, steps = _step(payload)
    body: dict[str, Any] = {
        "version": text(payload, "version") or pod_hash,
        "environment": text(payload, "environment") or "production",
        "type": "deploy",
        "strategy": "blue_green" if blue_green else "canary",
        "run_id": f"argo-rollouts-{namespace}-{rollout}-{pod_hash}"[:128],
        "context": context(labels=context(rollout=f"{namespace}/{rollout}")),
    }
    if kind == "started":
        body["event"] = "rollout_started" if blue_green else "canary_started"
    elif kind == "paused":
        if blue_green or steps == 0 or step < steps - 1:
            return Translation(name, ignored="paused between steps; step events announce progress")
        body["event"] = "canary_completed"
    elif kind == "canary_step":
        # currentStepIndex already points past the completed step.
        body["event"] = "canary_step"
        body["step"] = {"index": max(step, 1), "total": max(steps, 1)}
    else:
        body["event"] = kind
    if body["event"] == "task_failed":
        body["reason"] = text(payload, "message") or name
    key = f"{namespace}/{rollout}:{name}:{pod_hash}:{step}"
    return Translation(name, body, delivery_key=key)
