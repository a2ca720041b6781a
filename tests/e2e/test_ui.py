"""The web UI in a real browser against a real `herald serve` and the fake platforms.

One Herald process (SQLite in a temporary directory) and one Chromium serve the whole module;
each test opens its own browser context. The tests follow what a person does: paste a token,
configure DingTalk and Feishu callbacks through the form and test-send them, run a canary
release from the UI, inspect and resend deliveries, read the statistics, switch the language,
and try to act with a viewer token. Screenshots of the main pages go to
`$HERALD_UI_SCENARIO_SHOTS` (default: a temporary directory; docs/screenshots/ come from
test_ui_pages.py).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx2 as httpx
import pytest

from herald.fakeplatforms import Behaviour, FakePlatforms, FakePlatformsThread, Platform
from tests.conftest import ADMIN_TOKEN
from tests.e2e.processes import HeraldProcess, free_port, herald_env, wait_http

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DINGTALK_TOKEN = "dt-ui-robot"
DINGTALK_SECRET = "SECui0123456789abcdef0123456789abcdef"
FEISHU_TOKEN = "fs-ui-bot"
FEISHU_SECRET = "the-right-feishu-secret"
ENDPOINT = "ci"  # /hook/ci: answers 503 once, then 204
TIMEOUT_MS = 20_000

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class World:
    base: str
    fake: FakePlatforms
    shots: Path
    project_id: str = ""
    version_id: str = ""
    ids: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, token: str = ADMIN_TOKEN, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.base}/api/v1{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            **kwargs,
        )
        assert response.status_code < 400, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("ui")
    shots = Path(os.environ.get("HERALD_UI_SCENARIO_SHOTS") or tmp / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with FakePlatformsThread() as fake:
        fake.add_dingtalk_robot(DINGTALK_TOKEN, DINGTALK_SECRET)
        fake.add_feishu_bot(FEISHU_TOKEN, FEISHU_SECRET)
        fake.set_endpoint(ENDPOINT, [Behaviour.with_status(503), Behaviour.ok()])
        port = free_port()
        env = herald_env(
            f"sqlite:///{tmp / 'herald.db'}",
            HERALD_ADMIN_TOKEN=ADMIN_TOKEN,
            HERALD_HOST="127.0.0.1",
            HERALD_PORT=str(port),
        )
        server = HeraldProcess(["serve"], env, tmp / "herald.log")
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz", proc=server)
            w = World(base, fake, shots)
            project = w.api(
                "POST", "/release/projects", json={"name": "shop", "description": "订单服务"}
            )
            w.project_id = project["id"]
            version = w.api(
                "POST", f"/release/projects/{w.project_id}/versions", json={"name": "v1.0.0"}
            )
            w.version_id = version["id"]
            yield w
        finally:
            server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser-deps`")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class PageFactory(Protocol):
    def __call__(
        self, path: str, token: str | None = ADMIN_TOKEN, lang: str | None = "en"
    ) -> Page: ...


@pytest.fixture
def open_page(browser: Browser, world: World) -> Iterator[PageFactory]:
    """`open_page(path, token=…, lang=…)`: a fresh context with the token (if any) stored."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def opener(path: str, token: str | None = ADMIN_TOKEN, lang: str | None = "en") -> Page:
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-US")
        contexts.append(context)
        script = ""
        if token:
            script += f"localStorage.setItem('herald.token', {token!r});"
        if lang:
            script += f"if (!localStorage.getItem('herald.lang')) localStorage.setItem('herald.lang', {lang!r});"
        if script:
            context.add_init_script(script)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(world.base + path)
        return page

    yield opener
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def needs(world: World, key: str, step: str) -> str:
    if key not in world.ids:
        pytest.skip(f"needs {step} to have run first (the tests are steps of one scenario)")
    return world.ids[key]


def finished_task(world: World) -> str:
    """A one-host rolling task, run to success through the API."""
    task = world.api(
        "POST",
        "/release/tasks",
        json={
            "project_id": world.project_id,
            "version_id": world.version_id,
            "strategy": "rolling",
            "environment": "development",
            "hosts": ["dev-1"],
            "executor": {"type": "simulated", "host_seconds": 0},
        },
    )
    world.api("POST", f"/release/tasks/{task['id']}/start")
    deadline = time.monotonic() + 15
    while world.api("GET", f"/release/tasks/{task['id']}")["status"] != "success":
        assert time.monotonic() < deadline, "the task did not finish"
        time.sleep(0.1)
    return str(task["id"])


def shot(page: Page, world: World, name: str) -> None:
    page.screenshot(path=str(world.shots / f"{name}.png"), full_page=True)


def by_testid(page: Page, testid: str) -> Locator:
    return page.locator(f'[data-testid="{testid}"]')


# -- the shell ------------------------------------------------------------------------------------


def test_shell_serves_every_ui_path_and_its_assets(world: World) -> None:
    for path in ("/ui", "/ui/", "/ui/tasks/0193-not-even-an-id", "/ui/history/x", "/ui/stats"):
        page = httpx.get(world.base + path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/ui/assets/js/app.js">' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    root = httpx.get(world.base + "/")
    assert (root.status_code, root.headers["location"]) == (307, "/ui/")

    script = httpx.get(world.base + "/ui/assets/js/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    again = httpx.get(
        world.base + "/ui/assets/js/app.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    assert (
        httpx.get(world.base + "/ui/assets/app.css").headers["content-type"].startswith("text/css")
    )
    for missing in ("/ui/assets/nope.js", "/ui/assets/%2e%2e/routes.py", "/ui/assets/"):
        assert httpx.get(world.base + missing).status_code == 404, missing
    # The UI is not part of the API's contract.
    spec = httpx.get(world.base + "/openapi.json").json()
    assert not [path for path in spec["paths"] if path == "/" or path.startswith("/ui")]


# -- token ---------------------------------------------------------------------------------------


def test_token_missing_then_invalid_then_accepted(open_page: PageFactory, world: World) -> None:
    page = open_page("/ui", token=None)
    form = by_testid(page, "token-form")
    expect(form).to_have_attribute("data-state", "missing")
    page.get_by_label("Bearer token").fill("hrld_not-a-real-token")
    page.get_by_role("button", name="Save token").click()
    expect(form).to_have_attribute("data-state", "invalid")
    expect(form).to_contain_text("unknown or revoked")
    # Refused at sign-in: the wrong token was never stored or shown as signed in.
    assert page.evaluate("localStorage.getItem('herald.token')") is None
    expect(by_testid(page, "token-status")).not_to_contain_text("hrld_not")

    page.get_by_label("Bearer token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Save token").click()
    expect(page.get_by_role("heading", name="Releases")).to_be_visible()
    expect(by_testid(page, "token-status")).to_contain_text("admin")
    assert page.evaluate("localStorage.getItem('herald.token')") == ADMIN_TOKEN
    assert page.url.endswith("/ui/tasks")


# -- callback configuration and test send -------------------------------------------------------


def test_dingtalk_config_through_the_form_and_test_send(
    open_page: PageFactory, world: World
) -> None:
    page = open_page(f"/ui/projects/{world.project_id}")
    by_testid(page, "config-new").click()
    expect(page.get_by_role("heading", name="New callback config")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("ops-group")
    page.get_by_label("Release stopped").check()
    card = by_testid(page, "channel-card").first
    expect(card.get_by_label("Channel type")).to_have_value("dingtalk")
    card.get_by_label("Webhook URL").fill(world.fake.dingtalk_url(DINGTALK_TOKEN))
    # A secret that is not DingTalk's SEC… kind: the API's error lands on that field.
    card.get_by_label("Signing secret").fill("not-a-dingtalk-secret")
    by_testid(page, "config-save").click()
    secret = card.get_by_label("Signing secret")
    expect(secret).to_have_attribute("aria-invalid", "true")
    expect(card.locator(".field-error")).to_contain_text("starts with SEC")

    secret.fill(DINGTALK_SECRET)
    by_testid(page, "config-save").click()
    expect(page).to_have_url(re.compile(r"/ui/callbacks/[0-9a-f-]{36}$"))
    world.ids["config"] = page.url.rsplit("/", 1)[1]
    msg = by_testid(page, "config-msg")
    expect(msg).to_contain_text("Config created")
    expect(by_testid(page, "config-warnings")).to_contain_text("not oapi.dingtalk.com")
    # Secrets come back masked.
    expect(card.get_by_label("Signing secret")).to_have_value(re.compile(r"^\*\*\*\*"))
    expect(card.get_by_label("Webhook URL")).to_have_value(re.compile(r"access_token=\*\*\*\*"))

    before = len(world.fake.received("dingtalk", DINGTALK_TOKEN, delivered=True))
    by_testid(page, "test-send").click()
    outcome = by_testid(page, "test-outcome")
    expect(outcome).to_have_attribute("data-value", "delivered")
    expect(outcome).to_have_text("delivered")
    expect(by_testid(page, "test-code")).to_have_text("0")
    received = world.fake.received("dingtalk", DINGTALK_TOKEN, delivered=True)
    assert len(received) == before + 1

    # The preview renders what would be sent, without sending it.
    by_testid(page, "config-preview").click()
    expect(by_testid(page, "previews")).to_contain_text('"msgtype": "markdown"')
    assert len(world.fake.received("dingtalk", DINGTALK_TOKEN)) == before + 1
    shot(page, world, "config-editor")


def test_wrong_feishu_secret_shows_platform_code(open_page: PageFactory, world: World) -> None:
    config_id = needs(world, "config", "test_dingtalk_config_through_the_form_and_test_send")
    page = open_page(f"/ui/callbacks/{config_id}")
    by_testid(page, "add-channel-type").select_option("feishu")
    by_testid(page, "add-channel").click()
    card = by_testid(page, "channel-card").nth(1)
    expect(card.get_by_label("Channel type")).to_have_value("feishu")
    card.get_by_label("Webhook URL").fill(world.fake.feishu_url(FEISHU_TOKEN))
    card.get_by_label("Signing secret").fill("a-wrong-secret")
    by_testid(page, "config-save").click()
    expect(by_testid(page, "config-msg")).to_contain_text("Saved")
    expect(by_testid(page, "channel-card")).to_have_count(2)

    by_testid(page, "test-send").click()
    rows = by_testid(page, "test-results").locator("tbody tr")
    expect(rows).to_have_count(2)
    # The DingTalk secret was sent back masked and kept: that channel still delivers.
    expect(rows.nth(0).locator('[data-testid="test-outcome"]')).to_have_attribute(
        "data-value", "delivered"
    )
    feishu = rows.nth(1)
    expect(feishu.locator('[data-testid="test-outcome"]')).to_have_attribute(
        "data-value", "permanent"
    )
    expect(feishu.locator('[data-testid="test-code"]')).to_have_text("19021")
    expect(feishu.locator('[data-testid="test-message"]')).to_contain_text("sign match fail")
    assert world.fake.received("feishu", FEISHU_TOKEN, code=19021)


# -- a canary release driven from the UI --------------------------------------------------------


def test_canary_release_from_the_ui(open_page: PageFactory, world: World) -> None:
    # A second config: a custom endpoint that fails once (no retries), for the resend test.
    world.api(
        "POST",
        f"/release/projects/{world.project_id}/callbacks",
        json={
            "name": "ci-hook",
            "events": ["canary_started"],
            "channels": [
                {
                    "type": "custom",
                    "config": {
                        "url": world.fake.endpoint_url(ENDPOINT),
                        "retry_count": 0,
                        "headers": {"Authorization": "Bearer ci-receiver-secret"},
                    },
                }
            ],
        },
    )
    page = open_page(f"/ui/tasks/new?project_id={world.project_id}")
    form = by_testid(page, "task-form")
    expect(by_testid(page, "task-version")).to_have_value(world.version_id)
    by_testid(page, "task-new-version").fill("v2.0.0")
    by_testid(page, "task-strategy").select_option("canary")
    by_testid(page, "task-environment").fill("production")
    by_testid(page, "ctx-fields").locator("summary").click()
    by_testid(page, "ctx-operator").fill("alice")
    by_testid(page, "ctx-commit").fill("9f3c2ab")
    by_testid(page, "ctx-labels").fill("team=shop, region=eu")
    by_testid(page, "task-hosts").fill("web-1\nweb-2\nweb-3\nweb-4")
    by_testid(page, "task-canary").fill("1")
    by_testid(page, "task-batch").fill("2")
    by_testid(page, "task-host-seconds").fill("0.1")
    expect(form).to_be_visible()
    by_testid(page, "task-create-start").click()

    expect(page).to_have_url(re.compile(r"/ui/tasks/[0-9a-f-]{36}$"))
    world.ids["task"] = page.url.rsplit("/", 1)[1]
    status = by_testid(page, "task-status")
    promote = by_testid(page, "task-promote")
    expect(status).to_have_attribute("data-value", "awaiting_promotion")
    expect(promote).to_be_enabled()
    expect(by_testid(page, "task-start")).to_be_disabled()
    expect(by_testid(page, "progress-text")).to_have_text("1/4 done, 0 failed")
    # Promote asks first; Cancel leaves the canary waiting.
    promote.click()
    expect(by_testid(page, "dialog-confirm")).to_be_focused()
    by_testid(page, "dialog-cancel").click()
    expect(status).to_have_attribute("data-value", "awaiting_promotion")
    promote.click()
    by_testid(page, "dialog-confirm").click()
    expect(status).to_have_attribute("data-value", "success")
    expect(promote).to_be_disabled()
    expect(by_testid(page, "task-stop")).to_be_disabled()
    expect(by_testid(page, "progress-text")).to_have_text("4/4 done, 0 failed")
    expect(by_testid(page, "hosts-table").locator("tbody tr")).to_have_count(4)
    context = by_testid(page, "task-context")
    expect(context).to_contain_text("alice")
    expect(context).to_contain_text("9f3c2ab")
    expect(context).to_contain_text("region=eu")
    events = by_testid(page, "events").locator("li")
    expect(events).to_have_count(3)
    for event in ("canary_started", "canary_completed", "full_completed"):
        expect(by_testid(page, "events").locator(f'li[data-event="{event}"]')).to_have_count(1)
    # DingTalk + Feishu for three events, the custom hook for one.
    expect(by_testid(page, "task-deliveries").locator("tbody tr")).to_have_count(7)
    expect(by_testid(page, "task-deliveries").locator('[data-value="pending"]')).to_have_count(0)
    shot(page, world, "task")

    # Notifications link to this very page.
    link = f"{world.base}/ui/tasks/{world.ids['task']}"
    sent = world.api("GET", f"/release/tasks/{world.ids['task']}/callbacks?channel_type=dingtalk")
    assert sent["items"]
    assert all(link in d["request"]["body"] for d in sent["items"])

    task = world.api("GET", f"/release/tasks/{world.ids['task']}")
    version = world.api("GET", f"/release/projects/{world.project_id}/versions")["items"][0]
    assert (task["status"], task["version_id"], version["name"]) == (
        "success",
        version["id"],
        "v2.0.0",
    )

    page.get_by_role("link", name="Releases", exact=True).click()
    row = by_testid(page, "tasks-table").locator(f'tbody tr[data-id="{world.ids["task"]}"]')
    expect(row).to_contain_text("v2.0.0")
    expect(row.locator('[data-value="success"]')).to_be_visible()
    shot(page, world, "tasks")


# -- delivery history ---------------------------------------------------------------------------


def test_history_list_detail_and_resend(open_page: PageFactory, world: World) -> None:
    task_id = needs(world, "task", "test_canary_release_from_the_ui")
    page = open_page(f"/ui/history?task_id={task_id}&limit=5")
    table = by_testid(page, "history-table")
    expect(table.locator("tbody tr")).to_have_count(5)
    by_testid(page, "history-more").click()
    expect(table.locator("tbody tr")).to_have_count(7)
    expect(by_testid(page, "history-more")).to_be_hidden()
    shot(page, world, "history")

    by_testid(page, "h-channel").select_option("custom")
    expect(table.locator("tbody tr")).to_have_count(1)
    assert "channel_type=custom" in page.url
    table.get_by_role("link", name="Details").click()

    expect(page).to_have_url(re.compile(r"/ui/history/[0-9a-f-]{36}$"))
    expect(by_testid(page, "delivery-status")).to_have_attribute("data-value", "failed")
    attempts = by_testid(page, "attempt")
    expect(attempts).to_have_count(1)
    expect(attempts.first).to_contain_text("503")
    # The request is shown with its secret header redacted.
    expect(attempts.first.locator("table")).to_contain_text("****")
    expect(attempts.first).not_to_contain_text("ci-receiver-secret")

    by_testid(page, "resend").click()
    by_testid(page, "dialog-confirm").click()
    expect(by_testid(page, "delivery-status")).to_have_attribute("data-value", "success")
    expect(attempts).to_have_count(2)
    expect(attempts.first).to_have_attribute("data-outcome", "delivered")
    expect(attempts.first).to_contain_text("manual resend")
    expect(by_testid(page, "resend")).to_be_enabled()
    shot(page, world, "delivery")


# -- statistics ---------------------------------------------------------------------------------


def test_stats_page_draws_svg_bars(open_page: PageFactory, world: World) -> None:
    needs(world, "task", "test_canary_release_from_the_ui")
    page = open_page("/ui/stats")
    for chart in ("chart-success", "chart-volume", "chart-latency"):
        expect(by_testid(page, chart).locator("rect.bar").first).to_be_attached()
    bars = by_testid(page, "chart-volume").locator("rect.bar")
    assert bars.count() >= 9  # three channel × event rows at least, three segments each
    widths = bars.evaluate_all("rects => rects.map(r => Number(r.getAttribute('width')))")
    assert max(widths) > 100
    targets = by_testid(page, "targets-table").locator("tbody tr")
    expect(targets).to_have_count(3)
    expect(by_testid(page, "targets-table")).to_contain_text("closed")
    shot(page, world, "stats")

    page.get_by_role("link", name="Projects", exact=True).click()
    expect(by_testid(page, "projects-table")).to_contain_text("shop")
    page.get_by_role("link", name="shop", exact=True).click()
    expect(by_testid(page, "configs-table").locator("tbody tr")).to_have_count(2)
    shot(page, world, "project")


# -- language -----------------------------------------------------------------------------------


def test_language_switch(open_page: PageFactory, world: World) -> None:
    page = open_page(f"/ui/tasks/{finished_task(world)}", lang=None)
    # No saved choice: the browser's language (en-US here) decides.
    expect(page.locator('nav [data-nav="tasks"]')).to_have_text("Releases")
    expect(by_testid(page, "task-promote")).to_have_text("Promote")
    by_testid(page, "lang-select").select_option("zh")
    expect(page.locator('nav [data-nav="tasks"]')).to_have_text("发布任务")
    expect(by_testid(page, "task-promote")).to_have_text("推进全量")
    expect(by_testid(page, "task-status")).to_have_text("成功")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.reload()
    expect(page.locator('nav [data-nav="history"]')).to_have_text("回调历史")
    expect(by_testid(page, "task-status")).to_have_text("成功")
    expect(by_testid(page, "hosts-table")).to_contain_text("dev-1")
    shot(page, world, "task-zh")


# -- stopping a task mid-deploy ----------------------------------------------------------------


def test_a_task_stopped_mid_deploy_settles_in_both_languages(
    open_page: PageFactory, world: World
) -> None:
    task = world.api(
        "POST",
        "/release/tasks",
        json={
            "project_id": world.project_id,
            "version_id": world.version_id,
            "strategy": "rolling",
            "environment": "staging",
            "hosts": ["slow-1", "slow-2", "slow-3"],
            "batch_size": 2,
            "executor": {"type": "simulated", "host_seconds": 60},
        },
    )
    world.api("POST", f"/release/tasks/{task['id']}/start")
    page = open_page(f"/ui/tasks/{task['id']}")
    hosts = by_testid(page, "hosts-table")
    expect(hosts.locator('[data-value="running"]')).to_have_count(2)
    by_testid(page, "task-stop").click()
    # A destructive dialog starts on its reason field, never on the button that stops.
    expect(by_testid(page, "dialog-confirm")).not_to_be_focused()
    by_testid(page, "dialog-confirm").click()
    expect(by_testid(page, "task-status")).to_have_attribute("data-value", "stopped")
    expect(hosts.locator('[data-value="running"]')).to_have_count(0)
    expect(hosts.locator('[data-value="cancelled"]')).to_have_count(2)
    expect(hosts.locator('[data-value="skipped"]')).to_have_count(1)
    expect(hosts.locator('[data-value="cancelled"]').first).to_have_text("cancelled")
    expect(by_testid(page, "progress-text")).to_have_text(
        "0/3 done, 0 failed, 2 cancelled, 1 skipped"
    )
    running = by_testid(page, "progress-running").evaluate("el => el.style.width")
    assert running == "0%"
    assert by_testid(page, "progress-cancelled").evaluate("el => el.style.width").startswith("66")
    shot(page, world, "task-stopped")
    by_testid(page, "lang-select").select_option("zh")
    expect(hosts.locator('[data-value="cancelled"]').first).to_have_text("已取消")
    expect(hosts.locator('[data-value="skipped"]')).to_have_text("已跳过")
    expect(by_testid(page, "progress-text")).to_have_text("已完成 0/3，失败 0，已取消 2，已跳过 1")


# -- a viewer token -----------------------------------------------------------------------------


def test_a_viewer_sees_no_levers_and_reads_everything(open_page: PageFactory, world: World) -> None:
    viewer = world.api(
        "POST",
        "/tokens",
        json={"name": "ui-viewer", "role": "viewer", "projects": [world.project_id]},
    )["token"]
    pending = world.api(
        "POST",
        "/release/tasks",
        json={
            "project_id": world.project_id,
            "version_id": world.version_id,
            "strategy": "rolling",
            "environment": "staging",
            "hosts": ["web-9"],
        },
    )
    page = open_page(f"/ui/tasks/{pending['id']}", token=viewer)
    # The UI asks GET /me who the token is and draws no button the viewer could not use.
    expect(by_testid(page, "task-status")).to_have_attribute("data-value", "pending")
    expect(by_testid(page, "token-role")).to_have_text("viewer")
    expect(by_testid(page, "token-status")).to_contain_text("ui-viewer")
    for control in ("task-start", "task-promote", "task-stop", "task-rollback"):
        expect(by_testid(page, control)).to_have_count(0)
    page.get_by_role("link", name="Delivery history", exact=True).click()
    listing = page.locator('[data-testid="history-table"], [data-testid="history-table-empty"]')
    expect(listing).to_be_visible()
    expect(by_testid(page, "error")).to_have_count(0)


# -- every channel type through the form drawn from GET /api/v1/channel-types ------------------

# What a person types into each type's form (by field name; lists comma-separated, headers one
# per line). The labels to find the inputs by come from the API, in the page's language.
FORM_INPUT = {
    "feishu": {
        "webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/form-bot-token",
        "sign_secret": "feishu-form-signing-secret",
        "mention_open_ids": "ou_1, ou_2",
    },
    "dingtalk": {
        "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=form-robot-token",
        "sign_secret": "SECform0123456789abcdef0123456789",
        "at_mobiles": "13800000000, 13900000000",
    },
    "wechat": {"corp_id": "wwform0123", "agent_id": "1000002", "secret": "wecom-form-app-secret"},
    "wecom_bot": {"webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=form-key"},
    "custom": {
        "url": "https://ci.example.com/herald-hook",
        "headers": "Authorization: Bearer form-receiver-token\nX-Tenant: shop-tenant-id",
        "secret_headers": "X-Tenant",
        "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    },
    "slack": {
        "webhook_url": "https://hooks.slack.com/services/T0001/B0002/form-slack-secret",
        "mentions": '[{"events": ["task_failed"], "users": ["U024BE7LH"]}]',
    },
    "discord": {
        "webhook_url": "https://discord.com/api/webhooks/1234567890/form-discord-token",
        "mentions": '[{"events": ["task_failed", "task_stopped"], "groups": ["987654321"]}]',
    },
    "email": {
        "server": "smtps://smtp.example.com",
        "from_address": "herald@example.com",
        "to": "ops@example.com, sre@example.com",
        "username": "herald@example.com",
        "password": "form-smtp-password",
    },
    "teams": {
        "webhook_url": "https://prod-27.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=form-teams-signature"
    },
    "apprise": {"url": "tgram://123456789:AAE-form-bot-token/-100123456"},
}
SECRETS = {"sign_secret", "secret", "signing_secret", "password"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_channel_type_through_the_schema_driven_form(
    open_page: PageFactory, world: World, lang: str
) -> None:
    types = world.api("GET", "/channel-types")["items"]
    assert [t["type"] for t in types] == list(FORM_INPUT)
    project = world.api("POST", "/release/projects", json={"name": f"forms-{lang}"})
    page = open_page(f"/ui/projects/{project['id']}/callbacks/new", lang=lang)
    by_testid(page, "cfg-name").fill(f"every-channel-{lang}")
    for position, info in enumerate(types):
        if position == 0:
            by_testid(page, "channel-card").first.locator(
                '[data-testid="channel-type"]'
            ).select_option(info["type"])
        else:
            adder = by_testid(page, "add-channel-type")
            option = adder.locator(f'option[value="{info["type"]}"]')
            expect(option).to_have_text(info["label"][lang])
            adder.select_option(info["type"])
            by_testid(page, "add-channel").click()
        fill_channel_form(by_testid(page, "channel-card").nth(position), info, lang)
    by_testid(page, "config-save").click()
    expect(page).to_have_url(re.compile(r"/ui/callbacks/[0-9a-f-]{36}$"))
    expect(by_testid(page, "config-msg")).to_contain_text(
        {"en": "Config created", "zh": "已创建配置"}[lang]
    )
    config_id = page.url.rsplit("/", 1)[1]
    created = world.api("GET", f"/release/callbacks/{config_id}")
    check_saved_channels(created["channels"])

    # Sent back as shown, the masked secrets are kept (a mask is never stored as a value).
    by_testid(page, "config-save").click()
    expect(by_testid(page, "config-msg")).to_contain_text({"en": "Saved.", "zh": "已保存。"}[lang])
    again = world.api("GET", f"/release/callbacks/{config_id}")
    assert [c["config"] for c in again["channels"]] == [c["config"] for c in created["channels"]]
    shot(page, world, f"every-channel-{lang}")


def fill_channel_form(card: Locator, info: dict[str, Any], lang: str) -> None:
    """Fill the card's inputs by the labels the API gives, checking required marks, defaults
    and the type's name in the page's language."""
    expect(card.locator("legend")).to_contain_text(info["label"][lang])
    schema = info["config_schema"]
    by_name = {f["name"]: f for f in info["fields"]}
    for name, value in FORM_INPUT[info["type"]].items():
        control = card.get_by_label(by_name[name]["label"][lang], exact=True)
        expect(control).to_have_attribute("data-key", f"config.{name}")
        if name in schema.get("required", []):
            expect(control).to_have_attribute("required", "")
        control.fill(value)
    for name, prop in schema["properties"].items():
        default = prop.get("default")
        if name not in FORM_INPUT[info["type"]] and isinstance(default, str | int):
            control = card.locator(f'[data-key="config.{name}"]')
            if default is True:
                expect(control).to_be_checked()
            elif default is False:
                expect(control).not_to_be_checked()
            else:
                expect(control).to_have_value(str(default))
    for text in info["fields"]:
        if text["help"]:
            expect(card).to_contain_text(text["help"][lang])


def check_saved_channels(channels: list[dict[str, Any]]) -> None:
    assert [c["type"] for c in channels] == list(FORM_INPUT)
    saved = {c["type"]: c["config"] for c in channels}
    feishu, dingtalk, wechat, wecom_bot, custom = (
        saved[t] for t in ("feishu", "dingtalk", "wechat", "wecom_bot", "custom")
    )
    assert saved["slack"]["mentions"] == [
        {
            "events": ["task_failed"],
            "users": ["U024BE7LH"],
            "groups": [],
            "mobiles": [],
            "all": False,
        }
    ]
    assert saved["discord"]["mentions"][0]["groups"] == ["987654321"]
    assert saved["email"]["server"] == "smtps://smtp.example.com:465"
    assert saved["email"]["to"] == ["ops@example.com", "sre@example.com"]
    assert saved["email"]["password"] == "****word" and saved["email"]["require_starttls"]
    assert saved["teams"]["webhook_url"].endswith("sig=****ture")
    assert saved["apprise"]["url"] == "tgram://****3456"
    assert FORM_INPUT["apprise"]["url"] not in str(channels)
    assert feishu["mention_open_ids"] == ["ou_1", "ou_2"] and feishu["mention_all"] is False
    assert dingtalk["at_mobiles"] == ["13800000000", "13900000000"]
    assert (wechat["agent_id"], wechat["to_user"], wechat["api_base"]) == (
        1000002,
        "@all",
        "https://qyapi.weixin.qq.com",
    )
    assert wecom_bot["webhook_url"].endswith("key=****")
    assert custom["headers"] == {"Authorization": "****", "X-Tenant": "****"}
    assert (custom["method"], custom["timeout"], custom["ordered"]) == ("POST", 10, True)
    shown = str(channels)
    for raw in FORM_INPUT.values():
        for name, value in raw.items():
            assert name not in SECRETS or value not in shown, name


# -- release shapes beyond the PRD (issue 11) ---------------------------------------------------


@pytest.mark.parametrize(("lang", "width"), [("zh", 390), ("en", 1280)])
def test_a_multi_step_canary_from_the_form_shows_its_steps(
    open_page: PageFactory, world: World, lang: str, width: int
) -> None:
    page = open_page(f"/ui/tasks/new?project_id={world.project_id}", lang=lang)
    page.set_viewport_size({"width": width, "height": 844 if width < 800 else 800})
    by_testid(page, "task-strategy").select_option("canary")
    by_testid(page, "task-hosts").fill("web-1\nweb-2\nweb-3\nweb-4")
    by_testid(page, "task-steps-input").fill("25, 50%, 100")
    expect(by_testid(page, "task-canary")).to_be_hidden()  # the steps decide the canary hosts
    by_testid(page, "task-host-seconds").fill("0.05")
    by_testid(page, "task-create-start").click()

    expect(page).to_have_url(re.compile(r"/ui/tasks/[0-9a-f-]{36}$"))
    expect(by_testid(page, "task-status")).to_have_attribute("data-value", "awaiting_promotion")
    steps = by_testid(page, "task-steps").locator(".step")
    expect(steps).to_have_count(3)
    expect(by_testid(page, "task-steps").locator('[data-state="done"]')).to_have_count(3)
    first = "第 1/3 步 · 25% · 1 台" if lang == "zh" else "Step 1/3 · 25% · 1 host"
    expect(steps.first).to_have_text(first)
    expect(by_testid(page, "events").locator('li[data-event="canary_step"]')).to_have_count(2)
    # The chips wrap within their cell of the facts grid rather than widen it.
    overflow = by_testid(page, "task-steps").evaluate(
        "el => el.scrollWidth - el.parentElement.clientWidth"
    )
    assert overflow <= 0
    shot(page, world, f"task-steps-{lang}-{width}")


@pytest.mark.parametrize(("width", "lang"), [(1280, "en"), (390, "zh")])
def test_project_settings_free_environments_and_deletion(
    open_page: PageFactory, world: World, width: int, lang: str
) -> None:
    project = world.api("POST", "/release/projects", json={"name": f"edge-{width}"})
    page = open_page(f"/ui/projects/{project['id']}", lang=lang)
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 800})
    by_testid(page, "project-rename").fill(f"edge-{width}-renamed")
    by_testid(page, "project-environments").fill("eu-prod, gray")
    by_testid(page, "project-save").click()
    expect(by_testid(page, "project-title")).to_have_text(f"edge-{width}-renamed")
    expect(by_testid(page, "project-envs")).to_contain_text("eu-prod, gray")
    shot(page, world, f"project-settings-{width}-{lang}")
    # The new-task form offers the project's environments; a task with one of them is created.
    page.goto(f"{world.base}/ui/tasks/new?project_id={project['id']}")
    env = by_testid(page, "task-environment")
    expect(env).to_have_value("eu-prod")
    options = page.locator(f"datalist#{env.get_attribute('list')} option")
    expect(options).to_have_count(2)
    env.fill("gray")
    by_testid(page, "task-new-version").fill("v0.1")
    by_testid(page, "task-strategy").select_option("rolling")
    by_testid(page, "task-hosts").fill("h1")
    by_testid(page, "task-executor").select_option("external")
    by_testid(page, "task-create").click()
    expect(page).to_have_url(re.compile(r"/ui/tasks/[0-9a-f-]{36}$"))
    shot(page, world, f"task-free-env-{width}-{lang}")
    task_id = page.url.rsplit("/", 1)[1]
    assert world.api("GET", f"/release/tasks/{task_id}")["environment"] == "gray"
    # Deletion is refused while the project has tasks: the message says why.
    page.goto(f"{world.base}/ui/projects/{project['id']}")
    by_testid(page, "project-delete").click()
    by_testid(page, "dialog-confirm").click()
    expect(by_testid(page, "project-settings-msg")).to_contain_text("active")
    # A project without tasks is deleted.
    empty = world.api("POST", "/release/projects", json={"name": f"empty-{width}"})
    page.goto(f"{world.base}/ui/projects/{empty['id']}")
    by_testid(page, "project-delete").click()
    by_testid(page, "dialog-confirm").click()
    expect(page).to_have_url(re.compile(r"/ui/projects$"))
    assert empty["id"] not in str(world.api("GET", "/release/projects"))


# -- inbound webhooks -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_inbound_page_creates_a_source_and_lists_its_deliveries(
    open_page: PageFactory, world: World, lang: str
) -> None:
    page = open_page(f"/ui/projects/{world.project_id}", lang=lang)
    by_testid(page, "project-inbound").click()
    page.wait_for_url(re.compile(r"/inbound$"))
    by_testid(page, "inbound-name").fill(f"github-{lang}")
    by_testid(page, "inbound-kind").select_option("github")
    by_testid(page, "inbound-create").click()
    secret = by_testid(page, "inbound-secret").input_value()
    url = by_testid(page, "inbound-new-url").input_value()
    assert len(secret) >= 32 and url.startswith(f"{world.base}/api/v1/inbound/")
    shown = by_testid(page, "inbound-sources")
    shown.locator("tr", has_text=f"github-{lang}").wait_for()
    # An unsigned request is refused (401) and logged.
    refused = httpx.post(url, content=b"{}", headers={"X-GitHub-Event": "deployment"})
    assert refused.status_code == 401
    shown.locator("tr", has_text=f"github-{lang}").locator(
        '[data-testid="inbound-show-deliveries"]'
    ).click()
    log = by_testid(page, "inbound-deliveries")
    log.locator("[data-value='refused']").wait_for()
    assert "401" in log.inner_text()
    shot(page, world, f"inbound-{lang}-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    # Wide tables scroll inside their frame; the page itself keeps (about) the phone's width.
    assert page.evaluate("document.querySelector('#main').scrollWidth") <= 390
    shot(page, world, f"inbound-{lang}-mobile")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()
    by_testid(page, "inbound-sources").wait_for()
    assert secret not in page.content()  # masked once the page is left


# -- mute windows ---------------------------------------------------------------------------------


def no_sideways_scroll(page: Page, width: int) -> None:
    """Wide tables scroll inside their frame; the page itself never scrolls sideways."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px at {width}px"


@pytest.mark.parametrize(
    ("lang", "width", "height"),
    [("en", 1280, 800), ("zh", 390, 844)],
    ids=["en-desktop", "zh-phone"],
)
def test_a_mute_window_holds_notifications_until_sent_from_the_ui(
    browser: Browser, world: World, lang: str, width: int, height: int
) -> None:
    """Create a window with a duration preset, see what it holds (the muted badge in the
    history, the held count), send it all, and find the channel form's proxy field."""
    endpoint = f"quiet-{lang}"
    world.fake.set_endpoint(endpoint, Behaviour.ok())
    project = world.api("POST", "/release/projects", json={"name": f"mutes-{lang}"})
    version = world.api("POST", f"/release/projects/{project['id']}/versions", json={"name": "v1"})
    body = {
        "name": f"quiet-{lang}",
        "events": ["task_stopped"],
        "channels": [{"type": "custom", "config": {"url": world.fake.endpoint_url(endpoint)}}],
    }
    config = world.api("POST", f"/release/projects/{project['id']}/callbacks", json=body)
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    context.add_init_script(
        f"localStorage.setItem('herald.token', {ADMIN_TOKEN!r});"
        f"localStorage.setItem('herald.lang', {lang!r});"
    )
    errors: list[str] = []
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{world.base}/ui/mutes")
        by_testid(page, "mute-target").select_option(config["id"])
        by_testid(page, "mute-preset-1h").click()
        expect(by_testid(page, "mute-preset-1h")).to_have_attribute("aria-pressed", "true")
        by_testid(page, "mute-reason").fill("DB migration")
        by_testid(page, "mute-create").click()
        row = by_testid(page, "mutes-table").locator("tbody tr").first
        expect(row).to_contain_text("DB migration")
        expect(row.locator(".badge")).to_have_attribute("data-value", "active")

        for host in ("h1", "h2"):
            task = world.api(
                "POST",
                "/release/tasks",
                json={
                    "project_id": project["id"],
                    "version_id": version["id"],
                    "strategy": "rolling",
                    "environment": "staging",
                    "hosts": [host],
                },
            )
            world.api("POST", f"/release/tasks/{task['id']}/stop")
        deadline = time.monotonic() + 15
        while world.api("GET", "/mutes?active=true")[0]["held"] != 2:
            assert time.monotonic() < deadline, "the window never held two notifications"
            time.sleep(0.2)
        page.reload()
        expect(by_testid(page, "mute-held").first).to_have_text("2")
        expect(by_testid(page, "mutes-held-total")).to_be_visible()
        shot(page, world, f"mutes-{lang}-{width}")
        no_sideways_scroll(page, width)
        assert world.fake.received(Platform.ENDPOINT, endpoint) == []

        page.goto(f"{world.base}/ui/history?status=muted&config_id={config['id']}")
        badges = by_testid(page, "history-table").locator('.badge[data-value="muted"]')
        expect(badges).to_have_count(2)
        shot(page, world, f"history-muted-{lang}-{width}")
        no_sideways_scroll(page, width)

        page.goto(f"{world.base}/ui/mutes")
        by_testid(page, "mute-release").first.click()
        by_testid(page, "dialog-confirm").click()
        expect(page.locator(".alert-ok")).to_be_visible()
        deadline = time.monotonic() + 15
        while True:
            items = world.api("GET", f"/release/callbacks/{config['id']}/history")["items"]
            if [i["status"] for i in items] == ["success", "success"]:
                break
            assert time.monotonic() < deadline, [i["status"] for i in items]
            time.sleep(0.2)

        page.goto(f"{world.base}/ui/projects/{project['id']}/callbacks/new")
        card = by_testid(page, "channel-card").first
        card.locator("details.advanced summary").click()
        proxy = card.locator('[data-key="config.proxy_url"]')
        expect(proxy).to_be_visible()
        label_text = {"en": "Egress proxy", "zh": "出口代理"}[lang]
        expect(card.get_by_label(label_text, exact=True)).to_have_attribute(
            "data-key", "config.proxy_url"
        )
        expect(card.locator('textarea[data-key="config.ca_bundle"]')).to_be_visible()
        shot(page, world, f"channel-proxy-{lang}-{width}")
        no_sideways_scroll(page, width)
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def test_a_destination_defined_once_is_used_by_a_config_and_shows_its_health(
    open_page: PageFactory, world: World
) -> None:
    page = open_page("/ui/destinations")
    expect(page.get_by_role("heading", name="Organisation destinations")).to_be_visible()
    by_testid(page, "destination-name").fill("release room")
    card = by_testid(page, "channel-card")
    card.get_by_label("Channel type").select_option("dingtalk")
    card.get_by_label("Webhook URL").fill(world.fake.dingtalk_url(DINGTALK_TOKEN))
    card.get_by_label("Signing secret").fill(DINGTALK_SECRET)
    by_testid(page, "destination-save").click()
    expect(page).to_have_url(re.compile(r"/ui/destinations/[0-9a-f-]{36}$"))
    destination_id = page.url.rsplit("/", 1)[1]
    expect(by_testid(page, "destination-circuit")).to_have_attribute("data-value", "closed")
    expect(card.get_by_label("Signing secret")).to_have_value(re.compile(r"^\*\*\*\*"))

    # A project's config picks the destination instead of entering the robot again.
    page = open_page(f"/ui/projects/{world.project_id}/callbacks/new")
    page.get_by_label("Name", exact=True).fill("via destination")
    card = by_testid(page, "channel-card").first
    card.locator('[data-testid="channel-destination"]').select_option(destination_id)
    expect(card.get_by_label("Webhook URL")).to_be_hidden()
    by_testid(page, "config-save").click()
    expect(page).to_have_url(re.compile(r"/ui/callbacks/[0-9a-f-]{36}$"))
    before = len(world.fake.received("dingtalk", DINGTALK_TOKEN, delivered=True))
    by_testid(page, "test-send").click()
    expect(by_testid(page, "test-outcome")).to_have_attribute("data-value", "delivered")
    assert len(world.fake.received("dingtalk", DINGTALK_TOKEN, delivered=True)) == before + 1

    page = open_page(f"/ui/destinations/{destination_id}", lang="zh")
    expect(page.get_by_text("via destination")).to_be_visible()
    expect(by_testid(page, "destination-rate")).to_contain_text("1/20")
    shot(page, world, "destination")
