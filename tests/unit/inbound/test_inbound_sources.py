"""Each source kind verifies requests exactly as its platform signs them (the vectors of
platforms-inbound.md) and translates the documented payloads into external-event bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from herald.inbound import argo, flux, github, gitlab
from herald.inbound.inbound_types import Refused

FIXTURES = Path(__file__).parents[2] / "fixtures" / "inbound"
GH_SECRET = "herald-gh-secret"
G2_SIGNATURE = "sha256=796806501ad72bdbd425523ec17927d56b7f1ba88ed1c958c3de55afb74c5e4e"
FLUX_TOKEN = "herald-flux-token"
FX1_SIGNATURE = "sha256=0f0af8287475ac9c17b9decfc5ac5d20fce17404879ae48ec517345993510a31"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fixture(name))
    return loaded


# --- verification ------------------------------------------------------------------------------


def test_github_official_example_signature() -> None:
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    github.verify(
        "It's a Secret to Everybody", {"x-hub-signature-256": signature}, b"Hello, World!"
    )


def test_github_vector_g2_is_accepted_and_any_change_refused() -> None:
    body = fixture("github_g2.json")
    assert len(body) == 178
    github.verify(GH_SECRET, {"x-hub-signature-256": G2_SIGNATURE}, body)
    for secret, headers, raw in [
        ("other-secret", {"x-hub-signature-256": G2_SIGNATURE}, body),
        (GH_SECRET, {"x-hub-signature-256": G2_SIGNATURE}, body + b" "),
        (GH_SECRET, {"x-hub-signature-256": G2_SIGNATURE[:-1] + "f"}, body),
        (GH_SECRET, {"x-hub-signature-256": G2_SIGNATURE.removeprefix("sha256=")}, body),
        (GH_SECRET, {}, body),
    ]:
        with pytest.raises(Refused) as refused:
            github.verify(secret, headers, raw)
        assert refused.value.status == 401


def test_gitlab_token_must_equal_the_secret() -> None:
    gitlab.verify("s3cret-token-value", {"x-gitlab-token": "s3cret-token-value"}, b"{}")
    for headers in ({"x-gitlab-token": "s3cret-token-valuE"}, {"x-gitlab-token": ""}, {}):
        with pytest.raises(Refused) as refused:
            gitlab.verify("s3cret-token-value", headers, b"{}")
        assert refused.value.status == 401


GL1_TOKEN = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
GL1_BODY = (
    b'{"object_kind":"deployment","status":"success","deployment_id":15,'
    b'"environment":"production","short_sha":"279484c0","ref":"v1.4.2"}'
)
GL1_HEADERS = {
    "webhook-id": "a5461c4d-9c7f-4af9-add6-cddebe3c426f",
    "webhook-timestamp": "1717000000",
    "webhook-signature": "v1,iptIMjItaiQccX24ysoCvn20sb41FwL+389e+R6L7Ic=",
}


def test_gitlab_signing_token_vector_gl1() -> None:
    gitlab.verify_signed(GL1_TOKEN, GL1_HEADERS, GL1_BODY, now=1717000000)
    with pytest.raises(Refused):
        gitlab.verify_signed(GL1_TOKEN, GL1_HEADERS, GL1_BODY + b" ", now=1717000000)
    with pytest.raises(Refused) as stale:
        gitlab.verify_signed(GL1_TOKEN, GL1_HEADERS, GL1_BODY, now=1717000000 + 301)
    assert "too old" in stale.value.message
    with pytest.raises(Refused):  # a plain secret token cannot check a signature
        gitlab.verify_signed("plain-token", GL1_HEADERS, GL1_BODY, now=1717000000)
    with pytest.raises(Refused):  # the real clock: the vector's timestamp is long past
        gitlab.verify(GL1_TOKEN, GL1_HEADERS, GL1_BODY)


def test_flux_vector_fx1_is_accepted_and_any_change_refused() -> None:
    body = fixture("flux_event.json")
    assert len(body) == 383
    flux.verify(FLUX_TOKEN, {"x-signature": FX1_SIGNATURE}, body)
    flux.verify(
        FLUX_TOKEN, {"x-signature": FX1_SIGNATURE.upper().replace("SHA256", "sha256")}, body
    )
    for token, headers in [
        ("other", {"x-signature": FX1_SIGNATURE}),
        (FLUX_TOKEN, {"x-signature": "md5=" + FX1_SIGNATURE.removeprefix("sha256=")}),
        (FLUX_TOKEN, {"x-signature": FX1_SIGNATURE.removeprefix("sha256=")}),
        (FLUX_TOKEN, {}),
    ]:
        with pytest.raises(Refused) as refused:
            flux.verify(token, headers, body)
        assert refused.value.status == 401


def test_flux_other_documented_algorithms() -> None:
    import hashlib
    import hmac

    body = fixture("flux_event.json")
    digest = hmac.new(FLUX_TOKEN.encode(), body, hashlib.sha512).hexdigest()
    flux.verify(FLUX_TOKEN, {"x-signature": f"sha512={digest}"}, body)


def test_argo_bearer_secret() -> None:
    argo.verify("argo-secret-0123456789", {"authorization": "Bearer argo-secret-0123456789"}, b"")
    for headers in (
        {"authorization": "Bearer argo-secret-012345678"},
        {"authorization": "Basic argo-secret-0123456789"},
        {},
    ):
        with pytest.raises(Refused) as refused:
            argo.verify("argo-secret-0123456789", headers, b"")
        assert refused.value.status == 401


# --- translation -------------------------------------------------------------------------------


def test_github_deployment_starts_a_rollout() -> None:
    got = github.translate(
        {"x-github-event": "deployment", "x-github-delivery": "d-1"},
        payload("github_deployment.json"),
    )
    assert got.event is not None
    assert got.delivery_key == "d-1"
    event = got.event
    assert event["event"] == "rollout_started"
    assert event["run_id"] == "github-186853002-145988746"
    assert (event["version"], event["environment"], event["strategy"]) == (
        "v1.4.2",
        "production",
        "rolling",
    )
    assert event["context"]["commit"] == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert event["context"]["operator"] == "alice"
    assert event["occurred_at"].startswith("2024-05-29T16:20:00")


def test_github_canary_strategy_from_the_deployment_payload() -> None:
    body = payload("github_deployment.json")
    body["deployment"]["payload"] = {"strategy": "canary", "version": "1.4.2"}
    got = github.translate({"x-github-event": "deployment"}, body)
    assert got.event is not None
    assert (got.event["event"], got.event["version"]) == ("canary_started", "1.4.2")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("success", "full_completed"),
        ("failure", "task_failed"),
        ("error", "task_failed"),
        ("in_progress", "rollout_started"),
        ("queued", None),
        ("pending", None),
        ("inactive", None),
    ],
)
def test_github_deployment_status_states(state: str, expected: str | None) -> None:
    body = payload("github_deployment_status.json")
    body["deployment_status"]["state"] = state
    got = github.translate({"x-github-event": "deployment_status"}, body)
    assert (got.event["event"] if got.event else None) == expected
    assert got.platform_event == f"deployment_status:{state}"
    if got.event:
        # The same deployment, the same run: a status after the deployment joins its task.
        assert got.event["run_id"] == "github-186853002-145988746"
        assert got.event["context"]["pipeline_url"] == "https://ci.example.com/runs/77"
    if expected == "task_failed":
        assert got.event is not None
        assert got.event["reason"] == "canary promoted"
    if expected is None:
        assert got.ignored


def test_github_ping_is_ignored_and_other_events_refused() -> None:
    assert github.translate({"x-github-event": "ping"}, {"zen": "x"}).event is None
    with pytest.raises(Refused) as refused:
        github.translate({"x-github-event": "push"}, {})
    assert (refused.value.status, refused.value.code) == (400, "unsupported_event")
    assert "push" in refused.value.message


def test_gitlab_documented_payload() -> None:
    got = gitlab.translate(
        {"x-gitlab-event": "Deployment Hook", "idempotency-key": "k-1"},
        payload("gitlab_deployment.json"),
    )
    assert got.event is not None
    event = got.event
    assert (event["event"], event["run_id"], event["version"]) == (
        "full_completed",
        "gitlab-30-15",
        "v1.4.2",
    )
    assert event["context"]["commit"] == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    assert event["context"]["pipeline_url"] == "https://gitlab.example.com/acme/shop/-/jobs/796"
    assert event["context"]["operator"] == "alice"
    assert event["occurred_at"] == "2024-05-29T16:26:40+08:00"
    assert got.delivery_key == "k-1"


@pytest.mark.parametrize(
    ("status", "expected"),
    [("running", "rollout_started"), ("failed", "task_failed"), ("canceled", "task_stopped")],
)
def test_gitlab_statuses(status: str, expected: str) -> None:
    body = payload("gitlab_deployment.json") | {"status": status}
    got = gitlab.translate({"x-gitlab-event": "Deployment Hook"}, body)
    assert got.event is not None
    assert got.event["event"] == expected


def test_gitlab_other_hooks_refused() -> None:
    with pytest.raises(Refused) as refused:
        gitlab.translate({"x-gitlab-event": "Push Hook"}, {"object_kind": "push"})
    assert refused.value.status == 400


def test_flux_documented_event() -> None:
    got = flux.translate({}, json.loads(fixture("flux_event.json")))
    assert got.event is not None
    event = got.event
    assert event["event"] == "full_completed"
    assert event["version"] == "main@sha1:731f7ead"
    assert event["context"]["commit"] == "731f7ead"
    assert event["run_id"] == "flux-7d0cdc51-ddcf-4743-b223-83ca5c699632-main@sha1:731f7ead"


def test_flux_error_fails_and_info_chatter_is_ignored() -> None:
    body = json.loads(fixture("flux_event.json"))
    failed = flux.translate({}, body | {"severity": "error", "reason": "HealthCheckFailed"})
    assert failed.event is not None
    assert (failed.event["event"], failed.event["reason"]) == (
        "task_failed",
        "Reconciliation finished",
    )
    assert flux.translate({}, body | {"reason": "ArtifactUpToDate"}).event is None
    older = body | {"metadata": {"kustomize.toolkit.fluxcd.io/revision": "main/731f7ead"}}
    got = flux.translate({}, older)
    assert got.event is not None
    assert got.event["version"] == "main/731f7ead"


def test_flux_payload_without_object_is_unusable() -> None:
    with pytest.raises(Refused) as refused:
        flux.translate({}, {"reason": "x"})
    assert refused.value.status == 422


def _rollout(event: str, step: int, steps: int, **extra: Any) -> dict[str, Any]:
    return {
        "source": "argo-rollouts",
        "event": event,
        "rollout": "shop",
        "namespace": "apps",
        "environment": "staging",
        "version": "v1.4.2",
        "phase": "Paused",
        "message": "",
        "step": step,
        "steps": steps,
        "blueGreen": False,
        "podHash": "5d8f7c9b",
        **extra,
    }


def test_argo_rollouts_canary_sequence() -> None:
    seen = [
        argo.translate({}, _rollout(name, step, 4))
        for name, step in [
            ("rollout-updated", 0),
            ("rollout-step-completed", 1),
            ("rollout-paused", 1),
            ("rollout-step-completed", 3),
            ("rollout-paused", 3),
            ("rollout-completed", 4),
        ]
    ]
    events = [(t.event["event"], t.event.get("step")) if t.event else None for t in seen]
    assert events == [
        ("canary_started", None),
        ("canary_step", {"index": 1, "total": 4}),
        None,
        ("canary_step", {"index": 3, "total": 4}),
        ("canary_completed", None),
        ("full_completed", None),
    ]
    assert {t.event["run_id"] for t in seen if t.event} == {"argo-rollouts-apps-shop-5d8f7c9b"}


def test_argo_rollouts_blue_green_and_abort() -> None:
    started = argo.translate({}, _rollout("rollout-updated", 0, 0, blueGreen=True))
    assert started.event is not None
    assert (started.event["event"], started.event["strategy"]) == (
        "rollout_started",
        "blue_green",
    )
    aborted = argo.translate({}, _rollout("rollout-aborted", 1, 4, message="metric failed"))
    assert aborted.event is not None
    assert (aborted.event["event"], aborted.event["reason"]) == ("task_failed", "metric failed")


def test_argocd_application_events() -> None:
    body = {
        "source": "argocd",
        "event": "app-deployed",
        "app": "shop",
        "environment": "production",
        "version": "",
        "revision": "731f7ead0123456789abcdef0123456789abcdef",
        "health": "Healthy",
        "message": "successfully synced",
        "initiatedBy": "alice",
        "finishedAt": "2024-05-29T16:26:40Z",
        "url": "https://argocd.example.com/applications/shop",
    }
    got = argo.translate({}, body)
    assert got.event is not None
    assert got.event["event"] == "full_completed"
    assert got.event["version"] == "731f7ead0123"
    assert got.event["run_id"] == "argocd-shop-731f7ead0123456789abcdef0123456789abcdef"
    failed = argo.translate({}, body | {"event": "app-sync-failed", "message": "hook failed"})
    assert failed.event is not None
    assert (failed.event["event"], failed.event["reason"]) == ("task_failed", "hook failed")
    with pytest.raises(Refused) as refused:
        argo.translate({}, body | {"event": "app-created"})
    assert refused.value.status == 400
    assert "app-deployed" in refused.value.message
    with pytest.raises(Refused):
        argo.translate({}, body | {"source": "spinnaker"})
