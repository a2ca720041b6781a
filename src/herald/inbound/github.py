"""GitHub `deployment` and `deployment_status` webhooks.

Verification: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`
(docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).

Mapping: `deployment` (action `created`) starts the release (`canary_started` when the
deployment's `payload.strategy` is `canary`, else `rollout_started`); a `deployment_status` of
`in_progress` starts it too, `success` is `full_completed`, `failure` and `error` are
`task_failed`; `queued`, `pending` and `inactive` announce nothing. The run id is
`github-<repository id>-<deployment id>`, so GitHub's redeliveries are no-ops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.inbound.inbound_types import (
    Refused,
    Translation,
    context,
    hmac_hex,
    iso,
    malformed,
    same_secret,
    text,
    unauthorised,
)

KIND = "github"
STRATEGIES = ("canary", "rolling", "blue_green")
_FINISHED = {"success": "full_completed", "failure": "task_failed", "error": "task_failed"}
_SILENT = {"queued", "pending", "inactive"}


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise `Refused` (401) unless `X-Hub-Signature-256` is the body's HMAC under `secret`."""
    given = headers.get("x-hub-signature-256")
    if not given:
        raise unauthorised(
            "missing X-Hub-Signature-256: set the webhook's secret in GitHub to the source's secret"
        )
    expected = "sha256=" + hmac_hex(secret, body)
    if not same_secret(given.strip(), expected):
        raise unauthorised("X-Hub-Signature-256 does not match the body signed with the secret")


def translate(headers: Mapping[str, str], payload: Mapping[str, Any]) -> Translation:
    """The release event announced by one GitHub delivery."""
    kind = headers.get("x-github-event", "")
    delivery = headers.get("x-github-delivery")
    if kind == "ping":
        return Translation(
            "ping", ignored="ping: the webhook reaches Herald", delivery_key=delivery
        )
    if kind not in ("deployment", "deployment_status"):
        raise Refused(
            400,
            "unsupported_event",
            f"GitHub event {kind or '(none)'!r} is not handled: subscribe the webhook to "
            "'Deployments' and 'Deployment statuses' only",
        )
    deployment = payload.get("deployment")
    if not isinstance(deployment, Mapping):
        raise malformed("the payload has no deployment object")
    status = payload.get("deployment_status")
    if kind == "deployment":
        event = _start_event(deployment)
        state = "created"
    else:
        if not isinstance(status, Mapping):
            raise malformed("the payload has no deployment_status object")
        state = text(status, "state", required=True) or ""
        if state in _SILENT:
            return Translation(f"{kind}:{state}", ignored=f"state {state!r} announces nothing")
        if state == "in_progress":
            event = _start_event(deployment)
        elif state in _FINISHED:
            event = _FINISHED[state]
        else:
            raise Refused(400, "unsupported_event", f"deployment_status state {state!r} is unknown")
    body = _body(payload, deployment, status if isinstance(status, Mapping) else {}, event)
    return Translation(f"{kind}:{state}", body, delivery_key=delivery)


def _strategy(deployment: Mapping[str, Any]) -> str:
    extra = deployment.get("payload")
    chosen = extra.get("strategy") if isinstance(extra, Mapping) else None
    return chosen if chosen in STRATEGIES else "rolling"


def _start_event(deployment: Mapping[str, Any]) -> str:
    return "canary_started" if _strategy(deployment) == "canary" else "rollout_started"


def _body(
    payload: Mapping[str, Any],
    deployment: Mapping[str, Any],
    status: Mapping[str, Any],
    event: str,
) -> dict[str, Any]:
    repo = text(payload, "repository", "id") or text(payload, "repository", "full_name") or "repo"
    deployment_id = text(deployment, "id", required=True)
    extra = deployment.get("payload")
    version = text(extra, "version") if isinstance(extra, Mapping) else None
    ref = text(deployment, "ref")
    environment_url = text(status, "environment_url")
    body: dict[str, Any] = {
        "version": version or ref or text(deployment, "sha", required=True),
        "environment": text(deployment, "environment") or "production",
        "type": "rollback" if (text(deployment, "task") or "").endswith("rollback") else "deploy",
        "strategy": _strategy(deployment),
        "run_id": f"github-{repo}-{deployment_id}",
        "event": event,
        "context": context(
            operator=text(payload, "sender", "login") or text(deployment, "creator", "login"),
            commit=text(deployment, "sha"),
            ref=ref,
            pipeline_url=text(status, "log_url") or text(status, "target_url"),
            links=[{"title": "environment", "url": environment_url}] if environment_url else [],
            labels=context(repository=text(payload, "repository", "full_name")),
        ),
    }
    if event == "task_failed":
        body["reason"] = text(status, "description") or f"deployment {text(status, 'state')}"
    occurred = iso(text(status, "created_at") or text(deployment, "created_at"))
    if occurred:
        body["occurred_at"] = occurred
    return body
