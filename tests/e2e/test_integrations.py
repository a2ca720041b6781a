"""Every recipe of docs/integrations.md, run for real against `herald serve` on 127.0.0.1.

The shell the recipes run is extracted from the document (the blocks marked
`<!-- recipe: … -->`): GitHub Actions `run:` steps, GitLab CI `script:` lines, Jenkinsfile
`sh` steps and the curl command run in bash with the variables that CI system sets and the
`herald` command on PATH; the Argo templates are rendered with their Go-template fields
substituted (tests/e2e/gotemplate.py) and sent as Argo's webhook service would; the Flux
Provider's address and Secret sign an event as notification-controller does. Notifications go
to the fake Feishu, DingTalk, WeCom (app and robot) and a webhook endpoint, and are counted
there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints (schemathesis needs it)

from herald.cli.demo import Receivers
from herald.fakeplatforms import FakePlatforms, FakePlatformsThread
from herald.fakeplatforms.records import Platform
from tests.conftest import ADMIN_TOKEN
from tests.e2e.gotemplate import render
from tests.e2e.processes import HeraldProcess, free_port, herald_env, wait_http

pytestmark = pytest.mark.slow

DOC = Path(__file__).parents[2] / "docs" / "integrations.md"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "inbound"
BIN = str(Path(sys.executable).parent)
PLACEHOLDER_HOST = "https://herald.example.com"
CHANNELS = (
    Platform.FEISHU,
    Platform.DINGTALK,
    Platform.WECOM_APP,
    Platform.WECOM_BOT,
    Platform.ENDPOINT,
)
ALL_EVENTS = [
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


def recipe(name: str) -> str:
    """The fenced block after `<!-- recipe: name -->` in docs/integrations.md."""
    found = re.search(
        rf"<!-- recipe: {re.escape(name)} -->\n```\w+\n(.*?)```", DOC.read_text(), re.S
    )
    assert found, f"docs/integrations.md has no recipe {name!r}"
    return found.group(1)


@dataclass
class Herald:
    base: str
    fake: FakePlatforms
    project_id: str
    workdir: Path
    http: httpx.Client
    seen_events: dict[str, list[str]] = field(default_factory=dict)

    def env(self, **ci: str) -> dict[str, str]:
        """A pipeline's environment: PATH with `herald`, the CI's variables, Herald's URL and
        token (no HERALD_* setting of the server)."""
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "GITHUB_", "CI_"))
        }
        env.update(
            PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
            HERALD_URL=self.base,
            HERALD_TOKEN=ADMIN_TOKEN,
        )
        env.update(ci)
        return env

    def sh(
        self, script: str, env: dict[str, str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def task(self, run_id: str) -> dict[str, Any]:
        found = self.http.get(
            "/api/v1/release/tasks", params={"project": "payments-api", "run_id": run_id}
        )
        assert found.status_code == 200, found.text
        (item,) = found.json()["items"]
        task: dict[str, Any] = self.http.get(f"/api/v1/release/tasks/{item['id']}").json()
        return task

    def events(self, task_id: str) -> list[str]:
        answer = self.http.get(f"/api/v1/release/tasks/{task_id}/events")
        assert answer.status_code == 200, answer.text
        return [e["event_type"] for e in answer.json()]

    def source(self, kind: str, name: str) -> dict[str, Any]:
        created = self.http.post(
            f"/api/v1/release/projects/{self.project_id}/inbound-sources",
            json={"kind": kind, "name": name},
        )
        assert created.status_code == 201, created.text
        source: dict[str, Any] = created.json()
        return source

    def settled(self, task_id: str, events: int) -> list[dict[str, Any]]:
        """The task's deliveries once every notification (events × channels) is final."""
        wanted = events * len(CHANNELS)

        def final() -> list[dict[str, Any]]:
            page = self.http.get(
                f"/api/v1/release/tasks/{task_id}/callbacks", params={"limit": 200}
            )
            items: list[dict[str, Any]] = page.json()["items"]
            done = len(items) >= wanted and all(i["status"] != "pending" for i in items)
            return items if done else []

        settled: list[dict[str, Any]] = eventually(final, f"{wanted} final deliveries of {task_id}")
        return settled


def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def herald(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Herald]:
    tmp = tmp_path_factory.mktemp("integrations")
    workdir = tmp / "checkout"
    workdir.mkdir()
    for script in ("deploy.sh", "switch-traffic.sh"):  # what the recipes' pipelines call
        (workdir / script).write_text('#!/bin/sh\necho deploying "$@"\n')
        (workdir / script).chmod(0o755)
    receivers = Receivers()
    with FakePlatformsThread() as fake:
        receivers.register(fake)
        port = free_port()
        env = herald_env(
            f"sqlite:///{tmp / 'herald.db'}",
            HERALD_ADMIN_TOKEN=ADMIN_TOKEN,
            HERALD_PORT=str(port),
            HERALD_BASE_URL=f"http://127.0.0.1:{port}",
        )
        server = HeraldProcess(["serve"], env, tmp / "herald.log")
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        try:
            wait_http(f"{base}/healthz", proc=server)
            with httpx.Client(base_url=base, headers=headers, timeout=15) as http:
                project = http.post("/api/v1/release/projects", json={"name": "payments-api"})
                assert project.status_code == 201, project.text
                pid = project.json()["id"]
                config = {
                    "name": "every channel",
                    "events": ALL_EVENTS,
                    "channels": receivers.channels(fake),
                }
                made = http.post(f"/api/v1/release/projects/{pid}/callbacks", json=config)
                assert made.status_code == 201, made.text
                yield Herald(base, fake, pid, workdir, http)
        finally:
            server.stop()


def _one_per_event_per_channel(h: Herald, task_id: str) -> list[str]:
    """The task's events; each reached every channel exactly once (by the fakes' count)."""
    events = h.events(task_id)
    items = h.settled(task_id, len(events))
    assert [i["status"] for i in items] == ["success"] * len(items), items
    assert len(items) == len(events) * len(CHANNELS)
    return events


# -- pipelines ------------------------------------------------------------------------------------


GITHUB_EXPRESSIONS = {
    "vars.HERALD_URL": "{base}",
    "secrets.HERALD_TOKEN": ADMIN_TOKEN,
    "github.ref_name": "v1.4.2",
    "github.job": "deploy",
}


def _github(text: str, base: str) -> str:
    def value(match: re.Match[str]) -> str:
        return GITHUB_EXPRESSIONS[match.group(1)].format(base=base)

    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", value, text)


def test_github_actions_recipe(herald: Herald) -> None:
    workflow = yaml.safe_load(recipe("github-actions"))
    job = workflow["jobs"]["deploy"]
    ci = {
        "GITHUB_RUN_ID": "812",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_ACTOR": "alice",
        "GITHUB_SHA": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        "GITHUB_REF_NAME": "v1.4.2",
        "GITHUB_REPOSITORY": "acme/payments-api",
        "GITHUB_SERVER_URL": "https://github.com",
    }
    env = herald.env(**ci) | {k: _github(str(v), herald.base) for k, v in job["env"].items()}
    for step in job["steps"]:
        script = step.get("run", "")
        if "herald " not in script or step.get("if") == "failure()":
            continue  # checkout, install, and the step that runs only when the job failed
        script = _github(script, herald.base)
        if "--wait" in script:
            _promote_while_waiting(herald, script, env, "github-812-1")
            continue
        done = herald.sh(script, env)
        assert done.returncode == 0, done.stderr
    task = herald.task("github-812-1")
    assert task["status"] == "success"
    events = _one_per_event_per_channel(herald, task["id"])
    # The last of three steps is the canary's end: it awaits promotion (canary_completed).
    assert events == [
        "canary_started",
        "canary_step",
        "canary_step",
        "canary_completed",
        "full_completed",
    ]


def _promote_while_waiting(h: Herald, script: str, env: dict[str, str], run_id: str) -> None:
    """Run the `--wait` step; promote the task in Herald as a person would; it must exit 0."""
    waiting = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        cwd=h.workdir,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        task = eventually(
            lambda: (t := h.task(run_id))["status"] == "awaiting_promotion" and t,
            "awaiting promotion",
        )
        assert waiting.poll() is None, "promote --wait returned before anyone promoted"
        promoted = h.http.post(f"/api/v1/release/tasks/{task['id']}/promote")
        assert promoted.status_code == 200, promoted.text
        _, err = waiting.communicate(timeout=30)
        assert waiting.returncode == 0, err
    finally:
        if waiting.poll() is None:
            waiting.kill()
        waiting.communicate()


def test_gitlab_ci_recipe(herald: Herald) -> None:
    job = yaml.safe_load(recipe("gitlab-ci"))["deploy-production"]
    ci = {
        "CI_PROJECT_ID": "30",
        "CI_PIPELINE_ID": "4411",
        "CI_JOB_ID": "796",
        "CI_COMMIT_TAG": "v1.4.3",
        "CI_COMMIT_SHA": "279484c09fbe69ededfced8c1bb6e6d24616b468",
        "GITLAB_USER_LOGIN": "bob",
        "CI_PIPELINE_URL": "https://gitlab.example.com/acme/payments-api/-/pipelines/4411",
        "CI_JOB_STATUS": "success",
    }
    env = herald.env(**ci) | {k: str(v) for k, v in job["variables"].items()}
    env["HERALD_URL"] = herald.base  # the recipe's placeholder address
    for line in [*job["script"], *job["after_script"]]:
        done = herald.sh(line, env)
        assert done.returncode == 0, (line, done.stderr)
    task = herald.task("gitlab-30-4411")
    assert task["status"] == "success"
    assert _one_per_event_per_channel(herald, task["id"]) == ["rollout_started", "full_completed"]


def test_jenkins_recipe(herald: Herald) -> None:
    stage = recipe("jenkins")
    steps = stage.split("steps {", 1)[1].split("post {", 1)[0]
    lines = re.findall(r"^\s*sh '(.*)'$", steps, re.M)
    assert len(lines) == 3
    env = herald.env(
        BUILD_TAG="jenkins-payments-deploy-57",
        BUILD_URL="https://jenkins.example.com/job/payments-deploy/57/",
        GIT_COMMIT="0a1b2c3d",
        TAG_NAME="v1.4.4",
        BUILD_NUMBER="57",
        HERALD_PROJECT="payments-api",
    )
    for line in lines:
        done = herald.sh(line, env)
        assert done.returncode == 0, (line, done.stderr)
    task = herald.task("jenkins-payments-deploy-57")
    assert (task["status"], task["strategy"]) == ("success", "blue_green")
    assert _one_per_event_per_channel(herald, task["id"]) == ["rollout_started", "full_completed"]


def test_curl_recipe(herald: Herald) -> None:
    env = herald.env()
    first = herald.sh(recipe("curl"), env)
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert (answer["event_type"], answer["duplicate"]) == ("full_completed", False)
    again = herald.sh(recipe("curl"), env)  # the same key and body: the first answer again
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["task_id"] == answer["task_id"]
    assert _one_per_event_per_channel(herald, answer["task_id"]) == ["full_completed"]


# -- webhooks -------------------------------------------------------------------------------------


def _signed_github(
    h: Herald, source: dict[str, Any], name: str, event: str, secret: str
) -> httpx.Response:
    body = (FIXTURES / name).read_bytes()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": event,
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }
    return httpx.post(source["url"], content=body, headers=headers)


def test_github_and_gitlab_webhooks_with_documented_payloads(herald: Herald) -> None:
    github = herald.source("github", "payments repo")
    assert github["url"].startswith(herald.base)
    for name, event in (
        ("github_deployment.json", "deployment"),
        ("github_deployment_status.json", "deployment_status"),
    ):
        assert _signed_github(herald, github, name, event, "a wrong secret").status_code == 401
        accepted = _signed_github(herald, github, name, event, github["secret"])
        assert accepted.status_code == 200, accepted.text
        redelivered = _signed_github(herald, github, name, event, github["secret"])
        assert redelivered.json()["verdict"] == "duplicate"
    task = herald.task("github-186853002-145988746")
    assert _one_per_event_per_channel(herald, task["id"]) == ["rollout_started", "full_completed"]

    gitlab = herald.source("gitlab", "payments gitlab")
    body = (FIXTURES / "gitlab_deployment.json").read_bytes()
    headers = {"X-Gitlab-Event": "Deployment Hook", "Content-Type": "application/json"}
    assert httpx.post(gitlab["url"], content=body, headers=headers).status_code == 401
    sent = httpx.post(
        gitlab["url"], content=body, headers={**headers, "X-Gitlab-Token": gitlab["secret"]}
    )
    assert sent.status_code == 200, sent.text
    assert _one_per_event_per_channel(herald, herald.task("gitlab-30-15")["id"]) == [
        "full_completed"
    ]


def _placeholders(text: str, h: Herald, source: dict[str, Any]) -> str:
    return (
        text.replace(PLACEHOLDER_HOST, h.base)
        .replace("<source id>", source["id"])
        .replace("<the source's secret>", source["secret"])
    )


def test_flux_recipe(herald: Herald) -> None:
    source = herald.source("flux", "prod-cn flux")
    secret_doc, provider, alert = yaml.safe_load_all(_placeholders(recipe("flux"), herald, source))
    token = secret_doc["stringData"]["token"]
    address = provider["spec"]["address"]
    assert (provider["spec"]["type"], provider["spec"]["secretRef"]["name"]) == (
        "generic-hmac",
        secret_doc["metadata"]["name"],
    )
    # notification-controller: the event, the Alert's eventMetadata merged into metadata, signed.
    event = json.loads((FIXTURES / "flux_event.json").read_bytes())
    event["metadata"] |= alert["spec"]["eventMetadata"]
    body = json.dumps(event, separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Gotk-Component": "kustomize-controller"}
    assert (
        httpx.post(
            address, content=body, headers={**headers, "X-Signature": "sha256=00"}
        ).status_code
        == 401
    )
    sent = httpx.post(address, content=body, headers={**headers, "X-Signature": signature})
    assert sent.status_code == 200, sent.text
    task = herald.task("flux-7d0cdc51-ddcf-4743-b223-83ca5c699632-main@sha1:731f7ead")
    assert task["environment"] == "production"
    assert _one_per_event_per_channel(herald, task["id"]) == ["full_completed"]


def _argo_service(
    config_map: dict[str, Any], template: str, h: Herald, source: dict[str, Any]
) -> tuple[str, dict[str, str], str, str]:
    """URL, headers, method and body template of the recipe's webhook service, with the
    Secret's `$herald-token` substituted as Argo does."""
    service = yaml.safe_load(config_map["data"]["service.webhook.herald"])
    webhook = yaml.safe_load(config_map["data"][template])["webhook"]["herald"]
    headers = {
        x["name"]: x["value"].replace("$herald-token", source["secret"]) for x in service["headers"]
    }
    url = _placeholders(service["url"], h, source) + _placeholders(webhook["path"], h, source)
    return url, headers, webhook["method"], webhook["body"]


def test_argocd_recipe(herald: Herald) -> None:
    source = herald.source("argo", "argocd prod")
    config_map = yaml.safe_load(recipe("argocd"))
    url, headers, method, template = _argo_service(
        config_map, "template.herald-app", herald, source
    )
    app: dict[str, Any] = {
        "metadata": {
            "name": "payments-api",
            "labels": {"environment": "production"},
            "annotations": {"herald.io/version": "v1.5.0"},
        },
        "status": {
            "sync": {"revision": "731f7ead0123456789abcdef0123456789abcdef", "status": "Synced"},
            "health": {"status": "Progressing"},
            "operationState": {
                "phase": "Running",
                "operation": {"initiatedBy": {"username": "alice"}},
            },
        },
    }
    context = {"argocdUrl": "https://argocd.example.com"}
    running = render(template, {"recipient": "app-sync-running", "app": app, "context": context})
    app["status"]["health"]["status"] = "Healthy"
    app["status"]["operationState"] |= {
        "phase": "Succeeded",
        "message": 'synced "<all>"',
        "finishedAt": "2024-05-29T16:26:40Z",
    }
    deployed = render(template, {"recipient": "app-deployed", "app": app, "context": context})
    for body in (running, deployed, deployed):  # Argo retries: the repeat is a no-op
        sent = httpx.request(method, url, content=body.encode(), headers=headers)
        assert sent.status_code == 200, sent.text
    unsigned = httpx.request(
        method, url, content=deployed.encode(), headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    task = herald.task("argocd-payments-api-731f7ead0123456789abcdef0123456789abcdef")
    assert _one_per_event_per_channel(herald, task["id"]) == ["rollout_started", "full_completed"]


def test_argo_rollouts_recipe(herald: Herald) -> None:
    source = herald.source("argo", "rollouts prod")
    config_map = yaml.safe_load(recipe("argo-rollouts"))
    url, headers, method, template = _argo_service(
        config_map, "template.herald-rollout", herald, source
    )
    steps = [{"setWeight": 20}, {"pause": {"duration": "1m"}}, {"setWeight": 50}, {"pause": {}}]
    rollout: dict[str, Any] = {
        "metadata": {
            "name": "checkout",
            "namespace": "payments",
            "annotations": {"herald.io/version": "v2.0.0"},
        },
        "spec": {"strategy": {"canary": {"steps": steps}}},
        "status": {"phase": "Progressing", "currentStepIndex": 0, "currentPodHash": "5d8f7c9b"},
    }
    sequence = [
        ("rollout-updated", 0),
        ("rollout-step-completed", 1),
        ("rollout-paused", 2),
        ("rollout-step-completed", 3),
        ("rollout-paused", 3),
        ("rollout-completed", 4),
    ]
    for recipient, index in sequence:
        rollout["status"]["currentStepIndex"] = index
        body = render(template, {"recipient": recipient, "rollout": rollout})
        sent = httpx.request(method, url, content=body.encode(), headers=headers)
        assert sent.status_code in (200, 202), sent.text
    task = herald.task("argo-rollouts-payments-checkout-5d8f7c9b")
    assert _one_per_event_per_channel(herald, task["id"]) == [
        "canary_started",
        "canary_step",
        "canary_step",
        "canary_completed",
        "full_completed",
    ]


# -- the flaky pipeline ---------------------------------------------------------------------------


def test_a_pipeline_sending_every_call_twice_makes_one_task_and_one_notification_each(
    herald: Herald,
) -> None:
    env = herald.env(HERALD_RUN_ID="flaky-1", HERALD_PROJECT="payments-api")
    common = "--version v3.0.0 --strategy canary --operator carol"
    calls = [
        f"herald release start {common} --hosts web-1,web-2,web-3,web-4 --canary 1",
        *(
            f"herald release step {common} --index {i} --steps 3 --weight {i * 30}"
            for i in (1, 2, 3)
        ),
        f"herald release promote {common} --now",
        f"herald release finish {common} --total 4",
    ]
    for call in calls:
        for _ in range(2):
            done = herald.sh(call, env)
            assert done.returncode == 0, (call, done.stderr)
    task = herald.task("flaky-1")  # exactly one task has the run id
    assert task["status"] == "success"
    events = _one_per_event_per_channel(herald, task["id"])
    # The last of three steps is the canary's end: it awaits promotion (canary_completed).
    assert events == [
        "canary_started",
        "canary_step",
        "canary_step",
        "canary_completed",
        "full_completed",
    ]
    for platform in CHANNELS:
        received = herald.fake.received(platform, delivered=True)
        assert received, platform
