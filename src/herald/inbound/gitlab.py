"""GitLab deployment events (`X-Gitlab-Event: Deployment Hook`).

Verification: `X-Gitlab-Token` equals the webhook's secret token (compared in constant time);
docs.gitlab.com/user/project/integrations/webhooks/. GitLab's newer signing token (Standard
Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC>`, a
`whsec_…` secret; behind a feature flag, GA not confirmed) is accepted too when the source's
secret is that signing token.

Mapping by `status`: `running` → `rollout_started`, `success` → `full_completed`, `failed` →
`task_failed`, `canceled` → `task_stopped`. The run id is
`gitlab-<project id>-<deployment_id>`, so GitLab's retries are no-ops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.inbound.inbound_types import (
    Refused,
    Translation,
    context,
    iso,
    same_secret,
    text,
    unauthorised,
)
from herald.security.webhook_verify import WebhookVerificationError, verify_webhook

KIND = "gitlab"
HOOK = "Deployment Hook"
_EVENTS = {
    "running": "rollout_started",
    "success": "full_completed",
    "failed": "task_failed",
    "canceled": "task_stopped",
}


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise `Refused` (401) unless `X-Gitlab-Token` is the secret, or the request carries a
    Standard Webhooks signature under it (GitLab's signing token)."""
    given = headers.get("x-gitlab-token")
    if not given and headers.get("webhook-signature"):
        verify_signed(secret, headers, body)
        return
    if not given:
        raise unauthorised("missing X-Gitlab-Token: set the webhook's secret token in GitLab")
    if not same_secret(given, secret):
        raise unauthorised("X-Gitlab-Token is not the source's secret")


def verify_signed(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> None:
    """The signing-token scheme: HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>"
    under the decoded `whsec_` key, the timestamp within 5 minutes of `now`."""
    if not secret.startswith("whsec_"):
        raise unauthorised(
            "a signed request needs the source's secret to be GitLab's whsec_ signing token"
        )
    try:
        verify_webhook(secret, headers, body, now=now)
    except WebhookVerificationError as exc:
        raise unauthorised(f"webhook-signature: {exc.reason}") from None
    except ValueError as exc:
        raise unauthorised(f"the source's signing token is unusable: {exc}") from None


def translate(headers: Mapping[str, str], payload: Mapping[str, Any]) -> Translation:
    """The release event announced by one GitLab deployment event."""
    hook = headers.get("x-gitlab-event", "")
    if hook != HOOK or payload.get("object_kind") != "deployment":
        raise Refused(
            400,
            "unsupported_event",
            f"GitLab event {hook or '(none)'!r} is not handled: enable only 'Deployment events'",
        )
    status = text(payload, "status", required=True) or ""
    event = _EVENTS.get(status)
    if event is None:
        raise Refused(400, "unsupported_event", f"deployment status {status!r} is unknown")
    project = text(payload, "project", "id") or text(payload, "project", "path_with_namespace")
    commit_url = text(payload, "commit_url")
    commit = commit_url.rsplit("/", 1)[-1] if commit_url else text(payload, "short_sha")
    external_url = text(payload, "environment_external_url")
    body: dict[str, Any] = {
        "version": text(payload, "ref") or text(payload, "short_sha", required=True),
        "environment": text(payload, "environment") or "production",
        "type": "deploy",
        "strategy": "rolling",
        "run_id": f"gitlab-{project}-{text(payload, 'deployment_id', required=True)}",
        "event": event,
        "context": context(
            operator=text(payload, "user", "username"),
            commit=commit,
            ref=text(payload, "ref"),
            pipeline_url=text(payload, "deployable_url"),
            links=[{"title": "environment", "url": external_url}] if external_url else [],
            changelog=text(payload, "commit_title"),
            labels=context(project=text(payload, "project", "path_with_namespace")),
        ),
    }
    if event in ("task_failed", "task_stopped"):
        body["reason"] = f"GitLab deployment {status}"
    occurred = iso(text(payload, "status_changed_at"), ("%Y-%m-%d %H:%M:%S %z",))
    if occurred:
        body["occurred_at"] = occurred
    key = headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid")
    return Translation(f"deployment:{status}", body, delivery_key=key)
