"""Every UI page at phone and desktop width, in Chinese and English, as admin and as viewer.

One `herald serve` (SQLite) with a little of everything: a project, a callback config, a
finished release with deliveries and a canary release waiting for promotion. `PAGES` is the
list walked; a page added to the UI is one line there. For each page, width and language the
walk fails on:

- horizontal overflow of the document (tables scroll inside their own container instead);
- a control outside the viewport (the task page's promote and stop included), or a link or
  button in a table squeezed to one character per line;
- a blank band between the navigation and the page;
- serious or critical axe-core violations (axe is vendored under tests/e2e/vendor/, never
  fetched at test time);
- with a viewer token: any control that changes something (the UI reads `GET /api/v1/me`).

Screenshots of the main pages go to `$HERALD_UI_SCREENSHOTS` when it is set (`make test` and
`make screenshots` set it to docs/screenshots/).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2 as httpx
import pytest

from herald.fakeplatforms import Behaviour, FakePlatformsThread
from tests.conftest import ADMIN_TOKEN
from tests.e2e.processes import HeraldProcess, free_port, herald_env, wait_http

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
TIMEOUT_MS = 20_000

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 800)}
LANGS = ("zh", "en")


@dataclass(frozen=True)
class UiPage:
    """One page of the walk. `path` may name `{project}`, `{config}`, `{task}`, `{done}`,
    `{delivery}`; `controls` are test ids an admin must find inside the viewport;
    `shot` names its screenshot (None: no screenshot)."""

    name: str
    path: str
    controls: tuple[str, ...] = ()
    shot: str | None = None


PAGES = [
    UiPage("tasks", "/ui/tasks", shot="tasks"),
    UiPage("task", "/ui/tasks/{task}", ("task-promote", "task-stop"), shot="task"),
    UiPage("task-done", "/ui/tasks/{done}", ("task-rollback",)),
    UiPage("task-new", "/ui/tasks/new", ("task-create", "task-create-start")),
    UiPage("projects", "/ui/projects", ("project-create",)),
    UiPage("project", "/ui/projects/{project}", ("version-create",), shot="project"),
    UiPage("callbacks", "/ui/callbacks"),
    UiPage("config", "/ui/callbacks/{config}", ("config-save", "test-send"), shot="config"),
    UiPage("config-new", "/ui/projects/{project}/callbacks/new", ("config-save",)),
    UiPage("history", "/ui/history", shot="history"),
    UiPage("delivery", "/ui/history/{delivery}", ("resend",), shot="delivery"),
    UiPage("stats", "/ui/stats", shot="stats"),
    UiPage("settings", "/ui/settings", ("token-save",)),
    UiPage("destinations", "/ui/destinations"),
    UiPage("project-destinations", "/ui/projects/{project}/destinations"),
    UiPage("rules", "/ui/rules"),
    UiPage("mutes", "/ui/mutes"),
    UiPage("inbound", "/ui/projects/{project}/inbound"),
]

# Controls that change something: a viewer must see none of them.
WRITE_CONTROLS = (
    "task-new",
    "task-start",
    "task-promote",
    "task-stop",
    "task-rollback",
    "task-create",
    "task-create-start",
    "project-create",
    "version-create",
    "config-new",
    "config-save",
    "config-delete",
    "test-send",
    "resend",
    "task-new-link",
)


@dataclass
class Site:
    base: str
    ids: dict[str, str] = field(default_factory=dict)
    viewer: str = ""

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.base}/api/v1{path}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
            **kwargs,
        )
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def wait_status(self, task_id: str, status: str) -> None:
        deadline = time.monotonic() + 15
        while self.api("GET", f"/release/tasks/{task_id}")["status"] != status:
            assert time.monotonic() < deadline, f"task {task_id} never reached {status}"
            time.sleep(0.1)


def seed(site: Site, hook_url: str, throttled_url: str, robot_url: str) -> None:
    project = site.api(
        "POST", "/release/projects", json={"name": "shop", "description": "订单服务"}
    )
    pid = project["id"]
    version = site.api("POST", f"/release/projects/{pid}/versions", json={"name": "v1.0.0"})
    config = site.api(
        "POST",
        f"/release/projects/{pid}/callbacks",
        json={
            "name": "ops-hook",
            "events": ["canary_started", "full_completed", "task_failed"],
            "channels": [{"type": "custom", "config": {"url": hook_url, "retry_count": 0}}],
        },
    )
    # A receiver that answers 429 "hold off for 10 minutes": its target gets a platform penalty.
    throttled = site.api(
        "POST",
        f"/release/projects/{pid}/callbacks",
        json={
            "name": "throttled-hook",
            "events": ["canary_started"],
            "channels": [{"type": "custom", "config": {"url": throttled_url, "retry_count": 0}}],
        },
    )
    # A DingTalk robot that takes one message a window: the second earns a 10-minute penalty.
    robot = site.api(
        "POST",
        f"/release/projects/{pid}/callbacks",
        json={
            "name": "busy-robot",
            "events": ["canary_started", "canary_completed"],
            "channels": [{"type": "dingtalk", "config": {"webhook_url": robot_url}}],
        },
    )
    simulated = {"type": "simulated", "host_seconds": 0}
    base = {"project_id": pid, "version_id": version["id"], "executor": simulated}
    done = site.api(
        "POST",
        "/release/tasks",
        json={**base, "strategy": "rolling", "environment": "staging", "hosts": ["web-1", "web-2"]},
    )
    site.api("POST", f"/release/tasks/{done['id']}/start")
    site.wait_status(done["id"], "success")
    canary = site.api(
        "POST",
        "/release/tasks",
        json={
            **base,
            "strategy": "canary",
            "environment": "production",
            "hosts": [f"web-{i}" for i in range(1, 7)],
            "canary_count": 1,
        },
    )
    site.api("POST", f"/release/tasks/{canary['id']}/start")
    site.wait_status(canary["id"], "awaiting_promotion")
    deadline = time.monotonic() + 15
    while not (sent := site.api("GET", f"/release/tasks/{done['id']}/callbacks")["items"]):
        assert time.monotonic() < deadline, "no delivery was recorded"
        time.sleep(0.1)
    history = f"/release/callbacks/{throttled['id']}/history"
    while not (held := site.api("GET", history)["items"]) or held[0]["status"] == "pending":
        assert time.monotonic() < deadline, "the throttled delivery did not finish"
        time.sleep(0.1)
    site.ids["exhausted"] = held[0]["id"]
    while not any(t["penalty_until"] for t in site.api("GET", "/release/callbacks/targets")):
        assert time.monotonic() < deadline, "the robot's penalty never showed"
        time.sleep(0.1)
    robot_history = site.api("GET", f"/release/callbacks/{robot['id']}/history")["items"]
    site.ids["held"] = next(d["id"] for d in robot_history if d["status"] == "success")
    site.ids.update(
        project=pid, config=config["id"], task=canary["id"], done=done["id"], delivery=sent[0]["id"]
    )
    site.viewer = site.api(
        "POST", "/tokens", json={"name": "pages-viewer", "role": "viewer", "projects": [pid]}
    )["token"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("ui-pages")
    with FakePlatformsThread() as fake:
        fake.set_endpoint("pages", [Behaviour.ok()])
        fake.set_endpoint("throttled", [Behaviour.with_status(429, retry_after=600)])
        fake.add_dingtalk_robot("busy-robot", per_window=1)
        port = free_port()
        env = herald_env(
            f"sqlite:///{tmp / 'herald.db'}",
            HERALD_ADMIN_TOKEN=ADMIN_TOKEN,
            HERALD_HOST="127.0.0.1",
            HERALD_PORT=str(port),
        )
        server = HeraldProcess(["serve"], env, tmp / "herald.log")
        try:
            s = Site(f"http://127.0.0.1:{port}")
            wait_http(f"{s.base}/healthz", proc=server)
            seed(
                s,
                fake.endpoint_url("pages"),
                fake.endpoint_url("throttled"),
                fake.dingtalk_url("busy-robot"),
            )
            yield s
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


def open_ui(browser: Browser, site: Site, path: str, width: str, lang: str, token: str) -> Page:
    w, h = VIEWPORTS[width]
    context = browser.new_context(viewport={"width": w, "height": h}, locale="en-US")
    context.add_init_script(
        f"localStorage.setItem('herald.token', {token!r});"
        f"localStorage.setItem('herald.lang', {lang!r});"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.base + path.format(**site.ids))
    page.locator("main h1").first.wait_for()
    expect(page.locator("main .loading")).to_have_count(0)
    assert errors == [], errors
    return page


# What the page measures itself: overflow, controls out of view, squeezed links, the nav gap.
MEASURE = """(controls) => {
  const vw = window.innerWidth;
  const label = (el) => (el.dataset.testid || el.textContent.trim() || el.tagName).slice(0, 40);
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const inScroller = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
      if (p.classList.contains('table-wrap')) return true; } return false; };
  const out = [];
  for (const el of document.querySelectorAll('button, a, input, select, textarea, summary')) {
    if (!visible(el) || inScroller(el) || el.matches('.skip-link') || el.closest('dialog:not([open])')) continue;
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > vw + 1) out.push(label(el));
  }
  const missing = controls.filter((id) => { const el = document.querySelector(`[data-testid="${id}"]`);
      if (!el) return true; const r = el.getBoundingClientRect(); return r.left < 0 || r.right > vw + 1; });
  const squeezed = [];
  for (const el of document.querySelectorAll('td a, td button, .page-actions a, .page-actions button')) {
    const r = el.getBoundingClientRect();
    const line = parseFloat(getComputedStyle(el).lineHeight) || 20;
    if (visible(el) && el.textContent.trim().length > 1 && r.height > 2.5 * line) squeezed.push(label(el));
  }
  const nav = document.getElementById('sidebar').getBoundingClientRect();
  const main = document.getElementById('main').getBoundingClientRect();
  const select = document.getElementById('lang-select').getBoundingClientRect();
  const wideTables = vw < 1000 ? [] : [...document.querySelectorAll('.table-wrap')]
      .filter((w) => w.scrollWidth > w.clientWidth + 1).map((w) => `${w.querySelector('table').dataset.testid} `
        + `(${w.scrollWidth} > ${w.clientWidth}: ${[...w.querySelectorAll('th')].map((th) => Math.round(th.offsetWidth)).join(' ')})`);
  const clippedLabels = [...document.querySelectorAll('svg.chart text')]
      .filter((el) => el.getBBox().x < 0).map((el) => el.textContent);
  return { clippedLabels, wideTables, scrollWidth: document.scrollingElement.scrollWidth, vw, out, missing, squeezed,
           navGap: vw <= 800 ? main.top - nav.bottom : 0, select: select.width };
}"""


def check_layout(page: Page, controls: tuple[str, ...]) -> None:
    m = page.evaluate(MEASURE, list(controls))
    assert m["scrollWidth"] <= m["vw"], f"the page is {m['scrollWidth']} px wide at {m['vw']} px"
    assert m["out"] == [], f"controls outside the viewport: {m['out']}"
    assert m["missing"] == [], f"primary controls missing or outside the viewport: {m['missing']}"
    assert m["squeezed"] == [], f"links or buttons wrapped to a column: {m['squeezed']}"
    assert m["wideTables"] == [], f"tables wider than the desktop page: {m['wideTables']}"
    assert m["clippedLabels"] == [], f"chart labels cut off: {m['clippedLabels']}"
    assert m["navGap"] <= 1, f"a {m['navGap']} px band under the navigation"
    assert m["select"] >= 72, f"the language selector is {m['select']} px wide"


def check_axe(page: Page) -> None:
    # Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') stays on.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, { resultTypes: ['violations'] });
          return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
        }"""
    )
    assert result == [], f"axe-core: {result}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("ui", PAGES, ids=[p.name for p in PAGES])
def test_page_fits_and_is_accessible(
    browser: Browser, site: Site, ui: UiPage, width: str, lang: str
) -> None:
    page = open_ui(browser, site, ui.path, width, lang, ADMIN_TOKEN)
    try:
        check_layout(page, ui.controls)
        check_axe(page)
        shots = os.environ.get("HERALD_UI_SCREENSHOTS")
        if shots and ui.shot:
            Path(shots).mkdir(parents=True, exist_ok=True)
            # Phone shots show the first screen (what a person sees), desktop the whole page.
            path = f"{shots}/{ui.shot}-{width}-{lang}.png"
            page.screenshot(path=path, full_page=width == "desktop", animations="disabled")
    finally:
        page.context.close()


@pytest.mark.parametrize("ui", PAGES, ids=[p.name for p in PAGES])
def test_a_viewer_sees_no_control_it_cannot_use(browser: Browser, site: Site, ui: UiPage) -> None:
    page = open_ui(browser, site, ui.path, "phone", "en", site.viewer)
    try:
        found = page.evaluate(
            "(ids) => ids.filter((id) => document.querySelector(`[data-testid='${id}']`))",
            list(WRITE_CONTROLS),
        )
        allowed = ["token-save"] if ui.name == "settings" else []
        assert [c for c in found if c not in allowed] == []
        assert page.locator("[data-testid='error']").count() == 0
    finally:
        page.context.close()


# -- forms and dialogs ----------------------------------------------------------------------------


def by_testid(page: Page, testid: str) -> Locator:
    return page.locator(f'[data-testid="{testid}"]')


def test_a_refused_new_task_leaves_no_new_version(browser: Browser, site: Site) -> None:
    page = open_ui(
        browser, site, "/ui/tasks/new?project_id={project}", "desktop", "en", ADMIN_TOKEN
    )
    try:
        by_testid(page, "task-new-version").fill("v9-refused")
        by_testid(page, "task-strategy").select_option("canary")
        by_testid(page, "task-hosts").fill("web-1\nweb-2")
        by_testid(page, "task-canary").fill("3")  # more canary hosts than hosts: refused
        by_testid(page, "task-create").click()
        expect(by_testid(page, "error")).to_be_visible()
        versions = site.api("GET", f"/release/projects/{site.ids['project']}/versions")["items"]
        assert "v9-refused" not in [v["name"] for v in versions]
        # Fixed, the same form creates the version and the task.
        by_testid(page, "task-canary").fill("1")
        by_testid(page, "task-create").click()
        expect(page).to_have_url(re.compile(r"/ui/tasks/[0-9a-f-]{36}$"))
        versions = site.api("GET", f"/release/projects/{site.ids['project']}/versions")["items"]
        assert "v9-refused" in [v["name"] for v in versions]
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_template_typo_is_shown_at_its_field(browser: Browser, site: Site, lang: str) -> None:
    page = open_ui(browser, site, "/ui/callbacks/{config}", "phone", lang, ADMIN_TOKEN)
    try:
        advanced = page.locator("form > details.card.advanced")
        advanced.locator("summary").click()
        templates = advanced.locator("textarea").first
        templates.fill('{"canary_started": {"title": "x",}}')
        advanced.locator("summary").click()  # collapsed again, the typo out of sight
        expect(templates).to_be_hidden()
        by_testid(page, "config-save").click()
        expect(templates).to_be_focused()
        expect(templates).to_have_attribute("aria-invalid", "true")
        error = advanced.locator("[data-testid='field-error']")
        expect(error).to_contain_text("1" if lang == "en" else "第 1 行")
        expect(error).to_contain_text("JSON")
        summary = by_testid(page, "error")
        expect(summary).to_contain_text("Fix the marked fields" if lang == "en" else "请修正")
        expect(summary).not_to_contain_text("Cannot reach Herald")
        expect(summary).not_to_contain_text("无法连接")
        # The sticky save bar does not cover the field it just focused.
        field_box = templates.bounding_box()
        bar_box = page.locator(".sticky-actions").bounding_box()
        assert field_box and bar_box
        assert field_box["y"] < bar_box["y"], (field_box, bar_box)
    finally:
        page.context.close()


def test_dialogs_ask_first_and_start_on_cancel_when_destructive(
    browser: Browser, site: Site
) -> None:
    page = open_ui(browser, site, "/ui/callbacks/{config}", "desktop", "en", ADMIN_TOKEN)
    try:
        by_testid(page, "config-delete").click()
        expect(by_testid(page, "dialog-cancel")).to_be_focused()
        page.keyboard.press("Enter")  # Enter on Cancel: nothing deleted
        expect(page.locator("dialog[open]")).to_have_count(0)
        site.api("GET", f"/release/callbacks/{site.ids['config']}")
    finally:
        page.context.close()
    # The first successful release has nothing earlier to roll back to.
    page = open_ui(browser, site, "/ui/tasks/{done}", "desktop", "en", ADMIN_TOKEN)
    try:
        expect(by_testid(page, "task-rollback")).to_be_disabled()
        expect(by_testid(page, "task-rollback")).to_have_attribute(
            "title", re.compile("No earlier successful release")
        )
    finally:
        page.context.close()


def test_unsaved_edits_survive_a_language_switch_and_are_guarded(
    browser: Browser, site: Site
) -> None:
    page = open_ui(browser, site, "/ui/callbacks/{config}", "desktop", "en", ADMIN_TOKEN)
    try:
        by_testid(page, "cfg-name").fill("renamed-but-unsaved")
        by_testid(page, "lang-select").select_option("zh")
        expect(by_testid(page, "config-save")).to_have_text("保存")
        expect(by_testid(page, "cfg-name")).to_have_value("renamed-but-unsaved")
        # Leaving asks first; Cancel stays with the edits.
        page.locator("#sidebar a[data-nav='tasks']").click()
        expect(by_testid(page, "dialog-cancel")).to_be_focused()
        by_testid(page, "dialog-cancel").click()
        expect(page).to_have_url(re.compile(r"/ui/callbacks/"))
        expect(by_testid(page, "cfg-name")).to_have_value("renamed-but-unsaved")
        page.locator("#sidebar a[data-nav='tasks']").click()
        by_testid(page, "dialog-confirm").click()
        expect(page).to_have_url(re.compile(r"/ui/tasks$"))
        assert site.api("GET", f"/release/callbacks/{site.ids['config']}")["name"] == "ops-hook"
    finally:
        page.context.close()


def test_stats_leave_test_sends_out_until_asked(browser: Browser, site: Site) -> None:
    sent = site.api(
        "POST", f"/release/callbacks/{site.ids['config']}/test", json={"event_type": "task_failed"}
    )
    assert sent["results"][0]["delivered"]
    total = "(c) => [...c.querySelectorAll('rect.bar')].reduce((n, r) => n + Number(r.dataset.value), 0)"
    page = open_ui(browser, site, "/ui/stats", "desktop", "en", ADMIN_TOKEN)
    try:
        kind = by_testid(page, "stats-kind")
        expect(kind).to_have_value("notification")
        volume = by_testid(page, "chart-volume")
        expect(volume).to_be_visible()
        expect(volume.locator("text", has_text="Release failed")).to_have_count(0)
        without_tests = volume.evaluate(total)
        kind.select_option("all")
        expect(volume.locator("text", has_text="Release failed")).not_to_have_count(0)
        assert by_testid(page, "chart-volume").evaluate(total) == without_tests + 1
        assert "kind=all" in page.url
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_empty_pages_say_what_to_do_first(browser: Browser, site: Site, lang: str) -> None:
    empty = site.api("POST", "/release/projects", json={"name": f"empty-{lang}"})["id"]
    for path, testid, target in (
        (f"/ui/history?project_id={empty}", "history-table-empty", "/ui/callbacks"),
        (f"/ui/callbacks?project_id={empty}", "configs-table-empty", "/ui/projects"),
        (f"/ui/tasks?project_id={empty}", "tasks-table-empty", "/ui/projects"),
    ):
        page = open_ui(browser, site, path, "phone", lang, ADMIN_TOKEN)
        try:
            guide = by_testid(page, testid)
            expect(guide.locator(f"a[href='{target}']")).to_be_visible()
            expect(guide).to_contain_text("回调配置" if lang == "zh" else "callback config")
        finally:
            page.context.close()


def test_resend_says_when_the_target_holds_it_back(browser: Browser, site: Site) -> None:
    page = open_ui(browser, site, "/ui/history/{exhausted}", "desktop", "en", ADMIN_TOKEN)
    try:
        status = by_testid(page, "delivery-status")
        expect(status).to_have_attribute("data-value", "failed")
        expect(status).to_have_text("failed (retries exhausted)")
        # The recorded request copies as a cURL command, its secrets still masked.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        by_testid(page, "copy-curl").first.click()
        expect(by_testid(page, "copy-curl").first).to_have_text("Copied (secrets stay masked)")
        command = page.evaluate("navigator.clipboard.readText()")
        assert command.startswith("curl -X POST 'http://127.0.0.1:"), command
        assert "/hook/throttled'" in command and "--data-raw '{" in command, command
    finally:
        page.context.close()
    page = open_ui(browser, site, "/ui/history/{held}", "desktop", "en", ADMIN_TOKEN)
    try:
        by_testid(page, "resend").click()
        expect(page.locator("dialog[open]")).to_contain_text("hold off this target")
        by_testid(page, "dialog-confirm").click()
        expect(by_testid(page, "resend-wait")).to_contain_text("waits until")
    finally:
        page.context.close()
