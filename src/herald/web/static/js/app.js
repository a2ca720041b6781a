// The shell: History-API router, sidebar, language switch and the token gate.

import { channelTypes, getToken, setToken, forgetCaches } from "./api.js";
import { can, checkToken, forgetMe, loadMe, whoami } from "./session.js";
import { h, mount } from "./dom.js";
import { label, lang, setLang, t } from "./i18n.js";
import { alertBox, button, confirmDialog, errorBox, errorText, field } from "./ui.js";
import { taskListView, taskView, newTaskView } from "./views/tasks.js";
import { projectsView, projectView } from "./views/projects.js";
import { callbacksView, configEditorView, ruleEditorView, rulesView } from "./views/callbacks.js";
import { destinationView, destinationsView } from "./views/destinations.js";
import { historyView, deliveryView } from "./views/history.js";
import { statsView } from "./views/stats.js";
import { inboundView } from "./views/inbound.js";
import { mutesView } from "./views/mutes.js";

const ROUTES = [
  { path: "/ui", view: taskListView, nav: "tasks" },
  { path: "/ui/tasks", view: taskListView, nav: "tasks" },
  { path: "/ui/tasks/new", view: newTaskView, nav: "tasks" },
  { path: "/ui/tasks/:id", view: taskView, nav: "tasks" },
  { path: "/ui/projects", view: projectsView, nav: "projects" },
  { path: "/ui/projects/:id", view: projectView, nav: "projects" },
  { path: "/ui/projects/:project/callbacks/new", view: configEditorView, nav: "callbacks" },
  { path: "/ui/projects/:project/inbound", view: inboundView, nav: "projects" },
  { path: "/ui/projects/:project/destinations", view: destinationsView, nav: "destinations" },
  { path: "/ui/callbacks", view: callbacksView, nav: "callbacks" },
  { path: "/ui/destinations", view: destinationsView, nav: "destinations" },
  { path: "/ui/destinations/:id", view: destinationView, nav: "destinations" },
  { path: "/ui/rules", view: rulesView, nav: "rules" },
  { path: "/ui/rules/new", view: ruleEditorView, nav: "rules" },
  { path: "/ui/callbacks/:id", view: configEditorView, nav: "callbacks" },
  { path: "/ui/history", view: historyView, nav: "history" },
  { path: "/ui/history/:id", view: deliveryView, nav: "history" },
  { path: "/ui/stats", view: statsView, nav: "stats" },
  { path: "/ui/mutes", view: mutesView, nav: "mutes" },
  { path: "/ui/settings", view: settingsView, nav: "settings", open: true },
];

const NAV = [
  ["tasks", "/ui/tasks"],
  ["projects", "/ui/projects"],
  ["callbacks", "/ui/callbacks"],
  ["destinations", "/ui/destinations"],
  ["rules", "/ui/rules"],
  ["history", "/ui/history"],
  ["stats", "/ui/stats"],
  ["mutes", "/ui/mutes"],
  ["settings", "/ui/settings"],
];

const main = document.getElementById("main");
let current = null; // {ctx, route}
let dirty = false; // the shown form has edits not saved yet (see ctx.trackChanges)
let shownPath = location.pathname + location.search; // what the page shows (for popstate)

function match(pathname) {
  const path = pathname.replace(/\/+$/, "") || "/ui";
  const parts = path.split("/");
  for (const route of ROUTES) {
    const pattern = route.path.split("/");
    if (pattern.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < pattern.length; i++) {
      if (pattern[i].startsWith(":")) params[pattern[i].slice(1)] = decodeURIComponent(parts[i]);
      else if (pattern[i] !== parts[i]) {
        ok = false;
        break;
      }
    }
    // "/ui/tasks/new" is listed before "/ui/tasks/:id", so the first match wins.
    if (ok) return { route, params };
  }
  return null;
}

/** Leave unsaved edits only when the person says so. Resolves true to go on. */
async function mayLeave() {
  if (!dirty) return true;
  const ok = await confirmDialog(t("common.unsaved_confirm"), { danger: true, confirmLabel: t("common.leave"), title: t("common.unsaved_title") });
  if (ok) dirty = false;
  return ok;
}

export async function navigate(href, { replace = false } = {}) {
  if (!(await mayLeave())) return;
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  render();
}

function makeContext(params) {
  const controller = new AbortController();
  const cleanups = [];
  const ctx = {
    params,
    query: new URLSearchParams(location.search),
    main,
    signal: controller.signal,
    isAdmin: () => can("admin"),
    can,
    alive: () => !controller.signal.aborted,
    onCleanup: (fn) => cleanups.push(fn),
    /** Call `fn` every `ms` while the view is shown (and the tab is visible). */
    every(ms, fn) {
      const id = setInterval(() => {
        if (!controller.signal.aborted && document.visibilityState === "visible") fn();
      }, ms);
      cleanups.push(() => clearInterval(id));
      return () => clearInterval(id);
    },
    navigate,
    /** Put view state (filters) into the URL without a new history entry. */
    setQuery(values) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
      const text = q.toString();
      history.replaceState(null, "", location.pathname + (text ? `?${text}` : ""));
      shownPath = location.pathname + location.search;
      ctx.query = q;
    },
    rerender: () => render(),
    /** Watch `form` for edits: leaving the page (link, back, reload, close) then asks first. */
    trackChanges(form) {
      const mark = () => {
        if (!controller.signal.aborted) dirty = true;
      };
      form.addEventListener("input", mark);
      form.addEventListener("change", mark);
    },
    /** The edits are saved (call before navigating away after a save). */
    saved() {
      dirty = false;
    },
    dispose() {
      controller.abort();
      for (const fn of cleanups.splice(0)) {
        try {
          fn();
        } catch {
          // a cleanup failing must not stop the others
        }
      }
    },
  };
  return ctx;
}

function renderNav(active) {
  const nav = document.getElementById("sidebar");
  mount(
    nav,
    h(
      "ul",
      NAV.map(([key, href]) =>
        h(
          "li",
          h(
            "a",
            { href, "data-link": true, "aria-current": key === active ? "page" : undefined, dataset: { nav: key } },
            t(`nav.${key}`),
          ),
        ),
      ),
    ),
  );
}

function renderChrome() {
  document.getElementById("brand-sub").textContent = t("app.subtitle");
  document.getElementById("lang-label").textContent = t("app.language");
  document.querySelector(".skip-link").textContent = t("app.skip");
  document.getElementById("sidebar").setAttribute("aria-label", t("app.nav_label"));
  const select = document.getElementById("lang-select");
  select.value = lang();
  const status = document.getElementById("token-status");
  const token = getToken();
  if (!token) {
    mount(status, h("a", { href: "/ui/settings", "data-link": true, class: "badge tone-warn" }, t("token.none")));
  } else {
    mount(
      status,
      h(
        "a",
        { href: "/ui/settings", "data-link": true, class: "token-chip", title: t("token.change") },
        whoami() ? whoami().name : `${token.slice(0, 10)}…`,
        whoami() ? h("span", { class: "badge tone-info", dataset: { testid: "token-role" } }, label("role", whoami().role)) : null,
      ),
    );
  }
}

function tokenPanel({ invalid = null } = {}) {
  const f = field(t("token.label"), {
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "hrld_…",
    value: getToken(),
    help: t("token.help"),
    dataset: { testid: "token-input" },
  });
  const form = h(
    "form",
    {
      class: "card token-form",
      dataset: { testid: "token-form" },
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          const value = f.input.value.trim();
          if (!value) return;
          // Ask the server first: a wrong token is refused here, never saved as "signed in".
          const save = form.querySelector('[data-testid="token-save"]');
          save.disabled = true;
          try {
            await checkToken(value);
          } catch (err) {
            save.disabled = false;
            const replacement = tokenPanel({ invalid: err });
            form.replaceWith(replacement);
            replacement.querySelector("input").focus();
            return;
          }
          setToken(value);
        },
      },
    },
    h("h1", t("token.title")),
    invalid
      ? alertBox("error", invalid.status === 401 ? t("token.invalid", { message: invalid.message || "" }) : errorText(invalid))
      : getToken()
        ? null
        : alertBox("warn", t("token.missing")),
    f.wrap,
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "token-save" } }, t("token.save")),
      getToken()
        ? button(t("token.clear"), { testid: "token-clear", onClick: () => setToken("") })
        : null,
    ),
  );
  form.dataset.state = invalid ? "invalid" : getToken() ? "set" : "missing";
  return form;
}

async function settingsView(ctx) {
  document.title = `${t("nav.settings")} · Herald`;
  mount(ctx.main, tokenPanel());
}

export async function render() {
  if (current) current.ctx.dispose();
  dirty = false;
  shownPath = location.pathname + location.search;
  const found = match(location.pathname);
  renderChrome();
  if (!found) {
    current = null;
    renderNav(null);
    mount(main, alertBox("error", t("common.not_found_page")), h("p", h("a", { href: "/ui/tasks", "data-link": true }, t("nav.tasks"))));
    return;
  }
  const ctx = makeContext(found.params);
  current = { ctx, route: found.route };
  renderNav(found.route.nav);
  if (!getToken() && !found.route.open) {
    document.title = `${t("token.title")} · Herald`;
    mount(main, tokenPanel());
    return;
  }
  mount(main, h("p", { class: "loading", role: "status" }, t("common.loading")));
  try {
    // Views may name channel types, whose labels come from the server, and draw only the
    // controls the token may use (GET /me).
    if (!found.route.open) {
      const known = whoami();
      await Promise.all([channelTypes(), loadMe()]);
      if (!known) renderChrome();
    }
    if (!ctx.alive()) return;
    await found.route.view(ctx);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (ctx.alive() && !(err && err.status === 401)) mount(main, errorBox(err));
  }
}

// Links inside the app navigate without reloading.
document.addEventListener("click", (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest("a[data-link]");
  if (!a || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui")) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", async () => {
  if (dirty) {
    // The URL has already moved: put it back while asking, and go only when told to.
    const target = location.pathname + location.search;
    history.pushState(null, "", shownPath);
    if (!(await mayLeave())) return;
    history.replaceState(null, "", target);
  }
  render();
});

window.addEventListener("beforeunload", (ev) => {
  if (!dirty) return;
  ev.preventDefault();
  ev.returnValue = "";
});

/** The values of the page's form controls, in document order (to carry across a re-render). */
function snapshotControls() {
  return [...main.querySelectorAll("input, select, textarea")].map((el) => ({
    tag: el.tagName + (el.type || ""),
    value: el.value,
    checked: el.checked,
  }));
}

function restoreControls(snapshot) {
  const controls = () => [...main.querySelectorAll("input, select, textarea")];
  let list = controls();
  for (let i = 0; i < snapshot.length && i < list.length; i++) {
    const el = list[i];
    if (el.tagName + (el.type || "") !== snapshot[i].tag) break; // the form's shape changed: stop
    if (el.type === "checkbox" || el.type === "radio") el.checked = snapshot[i].checked;
    else if (el.value !== snapshot[i].value) {
      el.value = snapshot[i].value;
      if (el.tagName === "SELECT") {
        // A select may reshape the form (a channel's type draws its fields): let it, then go on
        // with the controls as they are now.
        el.dispatchEvent(new Event("change", { bubbles: true }));
        list = controls();
      }
    }
  }
}

window.addEventListener("herald:unauthorized", (ev) => {
  if (!current) return;
  current.ctx.dispose();
  mount(main, tokenPanel({ invalid: ev.detail }));
});

window.addEventListener("herald:token", () => {
  forgetMe();
  forgetCaches();
  render();
});

// Switching language redraws the page; unsaved edits are carried over, not discarded.
document.getElementById("lang-select").addEventListener("change", async (ev) => {
  setLang(ev.target.value);
  const keep = dirty ? snapshotControls() : null;
  await render();
  if (keep) {
    restoreControls(keep);
    dirty = true;
  }
});

if (location.pathname.replace(/\/+$/, "") === "/ui") history.replaceState(null, "", "/ui/tasks" + location.search);
render();
