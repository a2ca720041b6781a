"""Flux notification-controller events through the `generic-hmac` provider.

Verification: `X-Signature: <algo>=<hex HMAC(token, raw body)>`, where the key is the
Provider Secret's `token` and the algorithm is sha256 today (the docs' verifier also takes
sha224, sha384 and sha512; fluxcd.io/flux/components/notification/providers/).

Mapping: severity `error` → `task_failed` (the message is the reason); a reason ending in
`Succeeded` (`ReconciliationSucceeded`, `UpgradeSucceeded`, `InstallSucceeded`…) →
`full_completed`; `Progressing` → `rollout_started`; any other info event announces nothing.
The revision (`metadata.revision`, `originRevision`, or the prefixed key older controllers send)
is the version and commit. The run id is `flux-<object uid>-<revision>`, so Flux's retries are
no-ops; the environment is the Alert's `eventMetadata.environment` (or `env`), default
`production`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.inbound.inbound_types import (
    Translation,
    context,
    hmac_hex,
    iso,
    malformed,
    same_secret,
    text,
    unauthorised,
)

KIND = "flux"
ALGORITHMS = ("sha224", "sha256", "sha384", "sha512")


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise `Refused` (401) unless `X-Signature` is the body's HMAC under `secret`."""
    given = headers.get("x-signature")
    if not given:
        raise unauthorised("missing X-Signature: use a Flux Provider of type generic-hmac")
    algorithm, _, digest = given.strip().partition("=")
    if algorithm not in ALGORITHMS or not digest:
        raise unauthorised(f"X-Signature must be <{'|'.join(ALGORITHMS)}>=<hex>")
    if not same_secret(digest.lower(), hmac_hex(secret, body, algorithm)):
        raise unauthorised("X-Signature does not match the body signed with the token")


def _revision(metadata: Mapping[str, Any]) -> str | None:
    for key, value in metadata.items():
        if key.endswith("originRevision") and isinstance(value, str) and value:
            return value
    for key, value in metadata.items():
        if (key == "revision" or key.endswith("/revision")) and isinstance(value, str) and value:
            return value
    return None


def _event(severity: str, reason: str) -> str | None:
    if severity == "error":
        return "task_failed"
    if reason.endswith("Succeeded"):
        return "full_completed"
    if reason == "Progressing":
        return "rollout_started"
    return None


def translate(headers: Mapping[str, str], payload: Mapping[str, Any]) -> Translation:
    """The release event announced by one Flux event."""
    obj = payload.get("involvedObject")
    if not isinstance(obj, Mapping):
        raise malformed("the payload has no involvedObject: is this a Flux event?")
    reason = text(payload, "reason", required=True) or ""
    severity = text(payload, "severity") or "info"
    name = f"{text(obj, 'kind') or 'object'}/{text(obj, 'name') or '?'}"
    event = _event(severity, reason)
    if event is None:
        return Translation(reason, ignored=f"{name}: reason {reason!r} announces no release")
    raw_metadata = payload.get("metadata")
    metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
    revision = _revision(metadata) or "unknown"
    commit = revision.rsplit(":", 1)[-1].rsplit("/", 1)[-1] if "@" in revision else None
    uid = text(obj, "uid") or f"{text(obj, 'namespace')}-{name}"
    body: dict[str, Any] = {
        "version": revision,
        "environment": text(metadata, "environment") or text(metadata, "env") or "production",
        "type": "deploy",
        "strategy": "rolling",
        "run_id": f"flux-{uid}-{revision}"[:128],
        "event": event,
        "context": context(
            operator=text(payload, "reportingController"),
            commit=commit,
            labels=context(
                object=name, namespace=text(obj, "namespace"), cluster=text(metadata, "cluster")
            ),
        ),
    }
    if event == "task_failed":
        body["reason"] = text(payload, "message") or reason
    occurred = iso(text(payload, "timestamp"))
    if occurred:
        body["occurred_at"] = occurred
    return Translation(reason, body, delivery_key=f"{uid}:{reason}:{revision}")
