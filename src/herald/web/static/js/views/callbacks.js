// Callback configuration: the list of configs and the editor (per-type channel forms drawn from
// GET /api/v1/channel-types, events, filters, locale, templates), with test send and preview.

import { ApiError, RELEASE, channelTypes, del, get, getAll, post, projectMap, put } from "../api.js";
import { clear, formatJson, h, mount } from "../dom.js";
import { formatMs, label, t } from "../i18n.js";
import { can } from "../session.js";
import {
  alertBox,
  badge,
  busy,
  button,
  checkboxGroup,
  clearInvalid,
  confirmDialog,
  field,
  focusFirstInvalid,
  guide,
  jsonError,
  idLink,
  link,
  loading,
  markInvalid,
  pageHeader,
  pre,
  section,
  showError,
  table,
  time,
} from "../ui.js";
import { channelCard } from "./channel_form.js";
import { ENVIRONMENTS, STRATEGIES, TASK_TYPES } from "./tasks.js";

export const EVENTS = [
  "canary_started",
  "canary_step",
  "canary_completed",
  "full_completed",
  "rollout_started",
  "rollback_started",
  "rollback_completed",
  "task_failed",
  "task_stopped",
  "long_running",
];
const enc = encodeURIComponent;
const FIRST_CHANNEL = "dingtalk"; // the type a new config starts with, when the server has it

let flash = null; // a message to show on the next editor render (after create → redirect)

// -- list ---------------------------------------------------------------------------------------

function eventsText(events) {
  return events.map((e) => label("event", e)).join(t("common.list_sep"));
}

function channelChips(config) {
  return h(
    "span",
    { class: "chips" },
    config.channels.map((c) =>
      h("span", { class: ["chip", !c.enabled && "chip-off"], title: c.enabled ? "" : t("cfg.disabled") }, label("channel", c.type)),
    ),
  );
}

/** The configs table with edit/history/delete actions; `reload` is called after a delete. */
export function configsTable(configs, projectsById, { reload, msg, showProject = true }) {
  return table(
    [
      { label: t("cfg.name"), cell: (c) => link(`/ui/callbacks/${enc(c.id)}`, c.name) },
      showProject ? { label: t("task.project"), cell: (c) => (c.project_id === null ? h("span", { class: "tag" }, t("rule.org")) : projectsById.get(c.project_id) ? link(`/ui/projects/${enc(c.project_id)}`, projectsById.get(c.project_id).name) : c.project_id) } : null,
      { label: t("cfg.enabled"), cell: (c) => badge("enabled", c.enabled ? "on" : "off") },
      { label: t("cfg.events"), class: "wrap", cell: (c) => eventsText(c.events) },
      { label: t("cfg.channels"), class: "wrap", cell: (c) => channelChips(c) },
      { label: t("cfg.locale"), cell: (c) => label("locale", c.locale) },
      { label: t("cfg.updated"), cell: (c) => time(c.updated_at) },
      {
        label: t("common.actions"),
        class: "actions",
        cell: (c) =>
          h(
            "span",
            { class: "row-actions" },
            link(`/ui/callbacks/${enc(c.id)}`, t("common.edit")),
            link(`/ui/history?config_id=${enc(c.id)}`, t("nav.history")),
            can("write", c.project_id) && button(t("common.delete"), {
              kind: "link-danger",
              testid: "config-delete",
              "aria-label": `${t("common.delete")} ${c.name}`,
              onClick: async (ev) => {
                const btn = ev.currentTarget;
                if (!(await confirmDialog(t("cfg.delete_confirm", { name: c.name }), { danger: true, confirmLabel: t("common.delete") }))) return;
                await busy(btn, msg, async () => {
                  await del(`${RELEASE}/callbacks/${enc(c.id)}`);
                  await reload();
                });
              },
            }),
          ),
      },
    ].filter(Boolean),
    configs,
    { empty: [t("cfg.none"), " ", guide(t("guide.callbacks"), "/ui/projects", t("nav.projects"))], testid: "configs-table", caption: t("nav.callbacks") },
  );
}

export async function callbacksView(ctx) {
  document.title = `${t("nav.callbacks")} · Herald`;
  const projectsById = await projectMap();
  if (!ctx.alive()) return;
  const projectId = ctx.query.get("project_id") || "";
  const msg = h("div", { class: "msg" });
  const listSlot = h("div", loading());
  const fProject = field(t("filter.project"), {
    type: "select",
    options: [["", t("common.all")], ...[...projectsById.values()].map((p) => [p.id, p.name])],
    value: projectId,
  });
  const newLink = link(projectId ? `/ui/projects/${enc(projectId)}/callbacks/new` : "/ui/projects", t("cfg.new"));
  newLink.classList.add("btn", "btn-primary");
  async function reload() {
    const pid = fProject.input.value;
    const configs = await getAll(`${RELEASE}/callbacks`, { project_id: pid });
    if (!ctx.alive()) return;
    mount(listSlot, configsTable(configs, projectsById, { reload, msg }));
  }
  fProject.input.addEventListener("change", () => {
    ctx.setQuery({ project_id: fProject.input.value });
    newLink.href = fProject.input.value ? `/ui/projects/${enc(fProject.input.value)}/callbacks/new` : "/ui/projects";
    reload().catch((err) => showError(msg, err));
  });
  mount(
    ctx.main,
    pageHeader(t("nav.callbacks"), can("write") ? newLink : null),
    h("p", { class: "subtitle" }, t("cfg.intro")),
    h("form", { class: "filters", on: { submit: (e) => e.preventDefault() } }, fProject.wrap),
    msg,
    listSlot,
  );
  await reload();
}

/** /ui/rules: the organisation rules (admins), each reaching every project or those with labels. */
export async function rulesView(ctx) {
  document.title = `${t("nav.rules")} · Herald`;
  const projectsById = await projectMap();
  if (!ctx.alive()) return;
  const msg = h("div", { class: "msg" });
  const listSlot = h("div", loading());
  const newLink = link("/ui/rules/new", t("rule.new"));
  newLink.classList.add("btn", "btn-primary");
  newLink.dataset.testid = "rule-new";
  async function reload() {
    const rules = await getAll(`${RELEASE}/rules`);
    if (!ctx.alive()) return;
    mount(
      listSlot,
      table(
        [
          { label: t("cfg.name"), cell: (c) => link(`/ui/callbacks/${enc(c.id)}`, c.name) },
          { label: t("cfg.enabled"), cell: (c) => badge("enabled", c.enabled ? "on" : "off") },
          { label: t("cfg.events"), class: "wrap", cell: (c) => eventsText(c.events) },
          { label: t("rule.reaches"), class: "wrap", cell: (c) => labelsText(c.project_labels) },
          { label: t("cfg.filter_env"), cell: (c) => (c.filters.environments.length ? c.filters.environments.map((e) => label("env", e)).join(t("common.list_sep")) : t("common.all")) },
          { label: t("cfg.channels"), class: "wrap", cell: (c) => channelChips(c) },
        ],
        rules,
        { empty: t("rule.none"), testid: "rules-table", caption: t("nav.rules") },
      ),
    );
  }
  if (!ctx.isAdmin()) {
    // Rules are the admin's; a project's page lists the ones that reach it.
    mount(ctx.main, pageHeader(t("nav.rules")), h("p", { class: "subtitle" }, t("rule.intro")), h("p", { class: "help", dataset: { testid: "rules-admin-only" } }, t("rule.admin_only")));
    return;
  }
  mount(ctx.main, pageHeader(t("nav.rules"), newLink), h("p", { class: "subtitle" }, t("rule.intro")), msg, listSlot);
  await reload().catch((err) => showError(listSlot, err));
}

/** {tier: "production"} → "tier=production"; none: every project. */
export function labelsText(labels) {
  const pairs = Object.entries(labels || {});
  return pairs.length ? pairs.map(([k, v]) => `${k}=${v}`).join(", ") : t("rule.every_project");
}

/** "tier=production, team=pay" (commas or new lines) → {tier: "production", team: "pay"}. */
export function parseLabels(text, key) {
  const labels = {};
  for (const part of text.split(/[,\n]/)) {
    if (!part.trim()) continue;
    const at = part.indexOf("=");
    if (at <= 0) throw { key, message: t("rule.label_error", { part: part.trim() }) };
    labels[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return labels;
}

export async function ruleEditorView(ctx) {
  ctx.params.rule = true;
  return configEditorView(ctx);
}

// -- editor -------------------------------------------------------------------------------------

function resultsTable(results, channelsById) {
  return table(
    [
      {
        label: t("history.channel"),
        cell: (r) => h("span", label("channel", r.channel_type), channelsById && channelsById.get(r.channel_id) !== undefined ? h("span", { class: "muted" }, ` #${channelsById.get(r.channel_id) + 1}`) : null),
      },
      { label: t("history.outcome"), cell: (r) => badge("outcome", r.outcome, "test-outcome") },
      { label: t("test.delivered"), cell: (r) => (r.delivered ? t("common.yes") : t("common.no")) },
      { label: t("history.code"), cell: (r) => h("code", { dataset: { testid: "test-code" } }, r.code ?? "—") },
      { label: t("history.message"), class: "wrap", cell: (r) => h("span", { dataset: { testid: "test-message" } }, r.message) },
      { label: t("history.http"), cell: (r) => (r.http_status === null ? "—" : String(r.http_status)) },
      { label: t("history.latency"), cell: (r) => formatMs(r.latency_ms) },
      { label: t("history.delivery"), cell: (r) => idLink(`/ui/history/${enc(r.delivery_id)}`, r.delivery_id) },
    ],
    results,
    { testid: "test-results", empty: t("test.no_channels") },
  );
}

function previewList(previews) {
  return h(
    "div",
    { class: "previews", dataset: { testid: "previews" } },
    previews.map((p, i) =>
      h(
        "div",
        { class: "preview" },
        h("h3", `${t("cfg.channel")} ${i + 1} · ${label("channel", p.channel_type)}`),
        h("p", h("code", `${p.method} ${p.url}`), " ", h("span", { class: "muted" }, t("cfg.preview_bytes", { n: p.body_bytes }))),
        pre(formatJson(p.headers)),
        pre(formatJson(p.body)),
      ),
    ),
  );
}

export async function configEditorView(ctx) {
  const editing = ctx.params.id || null;
  let saved = null;
  if (editing) saved = await get(`${RELEASE}/callbacks/${enc(editing)}`, null, ctx.signal);
  const projectId = saved ? saved.project_id : ctx.params.project || null;
  const orgRule = projectId === null; // an organisation rule: no project, admins only
  const projectsById = await projectMap().catch(() => new Map());
  const types = new Map((await channelTypes()).map((info) => [info.type, info]));
  // The destinations a channel may use instead of inline settings.
  const destinations = await getAll(orgRule ? `${RELEASE}/destinations` : `${RELEASE}/projects/${enc(projectId)}/destinations`, orgRule ? {} : { include_org: "true" }).catch(() => []);
  if (!ctx.alive()) return;
  const project = projectsById.get(projectId);
  const title = editing ? t("cfg.edit_title", { name: saved.name }) : orgRule ? t("rule.new_title") : t("cfg.new_title");
  document.title = `${title} · Herald`;

  const base = saved || {
    name: "default",
    enabled: true,
    events: ["canary_started", "canary_completed", "full_completed", "task_failed"],
    filters: { environments: [], task_types: [], strategies: [] },
    locale: "zh",
    templates: null,
    channels: [{ type: types.has(FIRST_CHANNEL) ? FIRST_CHANNEL : [...types.keys()][0], enabled: true, config: null }],
    project_labels: null,
  };
  const fLabels = field(t("rule.labels"), {
    value: Object.entries(base.project_labels || {}).map(([k, v]) => `${k}=${v}`).join(", "),
    placeholder: "tier=production",
    help: t("rule.labels_help"),
    dataset: { key: "project_labels", testid: "rule-labels" },
  });

  const msg = h("div", { class: "msg", "aria-live": "polite", dataset: { testid: "config-msg" } });
  const fName = field(t("cfg.name"), { value: base.name, required: true, maxlength: 100, dataset: { key: "name", testid: "cfg-name" } });
  const fEnabled = field(t("cfg.enabled_long"), { type: "checkbox", checked: base.enabled, dataset: { key: "enabled", testid: "cfg-enabled" } });
  const fLocale = field(t("cfg.locale"), {
    type: "select",
    options: [["zh", label("locale", "zh")], ["en", label("locale", "en")]],
    value: base.locale || "zh",
    help: t("cfg.locale_help"),
    dataset: { key: "locale", testid: "cfg-locale" },
  });
  const gEvents = checkboxGroup(t("cfg.events"), EVENTS.map((e) => [e, `${label("event", e)}`]), base.events, { testid: "cfg-events" });
  gEvents.wrap.dataset.key = "events";
  const gEnv = checkboxGroup(t("cfg.filter_env"), ENVIRONMENTS.map((v) => [v, label("env", v)]), base.filters.environments || []);
  gEnv.wrap.dataset.key = "filters.environments";
  const gTypes = checkboxGroup(t("cfg.filter_types"), TASK_TYPES.map((v) => [v, label("ttype", v)]), base.filters.task_types || []);
  gTypes.wrap.dataset.key = "filters.task_types";
  const gStrategies = checkboxGroup(t("cfg.filter_strategies"), STRATEGIES.map((v) => [v, label("strategy", v)]), base.filters.strategies || []);
  gStrategies.wrap.dataset.key = "filters.strategies";
  const fTemplates = field(t("cfg.templates"), {
    type: "textarea",
    rows: 5,
    class: "mono",
    value: base.templates ? JSON.stringify(base.templates, null, 2) : "",
    placeholder: '{"task_failed": {"title": "{{ project.name }} 发布失败"}}',
    help: t("cfg.templates_help"),
    dataset: { key: "templates" },
  });

  const channelsSlot = h("div", { class: "channels", dataset: { key: "channels" } });
  let cards = [];
  function relabel() {
    cards.forEach((c, i) => c.setLegend(i));
  }
  function addChannel(initial) {
    const card = channelCard(initial, {
      onRemove: (el) => {
        if (cards.length <= 1) {
          showError(msg, new ApiError(0, "client", t("cfg.need_channel")));
          return;
        }
        cards = cards.filter((c) => c.card !== el);
        el.remove();
        relabel();
      },
      onChange: relabel,
      types,
      destinations,
    });
    cards.push(card);
    channelsSlot.appendChild(card.card);
    relabel();
    return card;
  }
  for (const ch of base.channels) addChannel(ch);
  const addType = field(t("cfg.add_type"), { type: "select", options: [...types.keys()].map((c) => [c, label("channel", c)]), dataset: { testid: "add-channel-type" } });
  const addBtn = button(t("cfg.add_channel"), {
    testid: "add-channel",
    onClick: () => {
      const card = addChannel({ type: addType.input.value, enabled: true, config: null });
      card.card.querySelector("input, select")?.focus();
    },
  });

  const form = h("form", { class: "form", novalidate: true, dataset: { testid: "config-form" } });

  function body() {
    clearInvalid(form);
    const problems = [];
    const channels = [];
    cards.forEach((c, i) => {
      try {
        channels.push(c.value());
      } catch (err) {
        if (err && err.key) problems.push({ field: `channels.${i}.${err.key}`, message: err.message });
        else throw err;
      }
    });
    let templates = null;
    if (fTemplates.input.value.trim()) {
      try {
        templates = JSON.parse(fTemplates.input.value);
      } catch (err) {
        problems.push({ field: "templates", message: jsonError(fTemplates.input.value, err) });
      }
    }
    let projectLabels = null;
    if (orgRule) {
      try {
        projectLabels = parseLabels(fLabels.input.value, "project_labels");
      } catch (err) {
        problems.push({ field: err.key, message: err.message });
      }
    }
    if (problems.length) {
      const err = new ApiError(0, "client", t("cfg.fix_fields"), problems);
      throw err;
    }
    return {
      ...(orgRule ? { project_labels: Object.keys(projectLabels).length ? projectLabels : null } : {}),
      name: fName.input.value.trim(),
      enabled: fEnabled.input.checked,
      events: gEvents.values(),
      channels,
      filters: { environments: gEnv.values(), task_types: gTypes.values(), strategies: gStrategies.values() },
      locale: fLocale.input.value,
      templates,
    };
  }

  /** Put every field error next to its control; channel fields are found inside their card. */
  function mapFieldErrors(err) {
    if (!(err instanceof ApiError)) return;
    let marked = 0;
    for (const { field: name, message } of err.fieldErrors()) {
      let root = form;
      let rest = name;
      const m = /^channels\.(\d+)\.?(.*)$/.exec(name);
      if (m && cards[Number(m[1])]) {
        root = cards[Number(m[1])].card;
        rest = m[2] || "type";
      }
      let control = null;
      let key = rest;
      while (key && !control) {
        // A config-level field ("templates") must not land on a channel's field of that name.
        const candidates = [...root.querySelectorAll(`[data-key="${CSS.escape(key)}"]`)];
        control = (root === form ? candidates.find((el) => !el.closest(".channel-card")) : candidates[0]) || null;
        if (!control) key = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
      }
      if (!control && root !== form) control = root.querySelector('[data-key="type"]');
      if (control) {
        const target = control.matches("fieldset, div") ? control.querySelector("input, select, textarea") || control : control;
        markInvalid(target, message);
        marked += 1;
      }
    }
    focusFirstInvalid(form);
    return marked;
  }

  function showWarnings(config, afterSave = false) {
    if (!config.warnings || !config.warnings.length) return null;
    return alertBox("warn", h("strong", afterSave ? t("cfg.warnings") : t("cfg.warnings_loaded")), h("ul", { dataset: { testid: "config-warnings" } }, config.warnings.map((w) => h("li", w))));
  }

  const saveBtn = h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "config-save" } }, editing ? t("common.save") : t("cfg.create"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await busy(saveBtn, null, async () => {
      clear(msg);
      let payload;
      try {
        payload = body();
        const result = editing
          ? await put(`${RELEASE}/callbacks/${enc(editing)}`, payload)
          : await post(orgRule ? `${RELEASE}/rules` : `${RELEASE}/projects/${enc(projectId)}/callbacks`, payload);
        flash = { kind: "ok", text: editing ? t("cfg.saved") : t("cfg.created"), warnings: result.warnings };
        ctx.saved();
        if (editing) ctx.rerender();
        else ctx.navigate(`/ui/callbacks/${enc(result.id)}`, { replace: true });
      } catch (err) {
        mapFieldErrors(err);
        showError(msg, err);
      }
    });
  });

  // Preview of what the (unsaved) form would send.
  const previewEvent = field(t("test.event"), { type: "select", options: EVENTS.map((e) => [e, label("event", e)]), value: "canary_started" });
  const previewSlot = h("div");
  const previewCard = section(t("cfg.preview_title"), previewSlot);
  const canPreview = Boolean(editing) || !orgRule; // an unsaved rule has no project to preview for
  previewCard.hidden = true;
  const previewBtn = button(t("cfg.preview"), {
    testid: "config-preview",
    onClick: (ev) =>
      busy(ev.currentTarget, previewSlot, async () => {
        previewCard.hidden = false;
        clearInvalid(form);
        let config;
        try {
          config = body();
        } catch (err) {
          mapFieldErrors(err);
          throw err;
        }
        const payload = { event_type: previewEvent.input.value, config };
        try {
          const previews = editing
            ? await post(`${RELEASE}/callbacks/${enc(editing)}/preview`, payload)
            : await post(`${RELEASE}/projects/${enc(projectId)}/callbacks/preview`, payload);
          mount(previewSlot, previewList(previews));
          previewCard.scrollIntoView({ block: "start" });
        } catch (err) {
          mapFieldErrors(err);
          throw err;
        }
      }),
  });

  const writable = can("write", projectId);
  const deleteBtn = editing && writable
    ? button(t("common.delete"), {
        kind: "danger",
        testid: "config-delete",
        onClick: async (ev) => {
          const btn = ev.currentTarget;
          if (!(await confirmDialog(t("cfg.delete_confirm", { name: saved.name }), { danger: true, confirmLabel: t("common.delete") }))) return;
          await busy(btn, msg, async () => {
            await del(`${RELEASE}/callbacks/${enc(editing)}`);
            ctx.saved();
            ctx.navigate(orgRule ? "/ui/rules" : `/ui/projects/${enc(projectId)}`);
          });
        },
      })
    : null;

  form.append(
    section(
      t("cfg.general"),
      h("div", { class: "grid-3" }, fName.wrap, fLocale.wrap, h("div", { class: "align-end" }, fEnabled.wrap)),
      gEvents.wrap,
      orgRule ? fLabels.wrap : null,
      h("h3", t("cfg.filters")),
      h("p", { class: "help" }, t("cfg.filters_help")),
      h("div", { class: "grid-3" }, gEnv.wrap, gTypes.wrap, gStrategies.wrap),
    ),
    section(t("cfg.channels"), channelsSlot, h("div", { class: "add-channel" }, addType.wrap, addBtn)),
    h("details", { class: "card advanced" }, h("summary", t("cfg.templates_section")), fTemplates.wrap),
    // A read-only token sees the config as it is: no save, preview, delete or test send.
    writable
      ? h(
          "div",
          { class: "form-actions sticky-actions" },
          saveBtn,
          canPreview ? h("span", { class: "inline-field" }, previewEvent.wrap, previewBtn) : null,
          link(project ? `/ui/projects/${enc(projectId)}` : orgRule ? "/ui/rules" : "/ui/callbacks", t("common.cancel")),
          deleteBtn,
        )
      : null,
  );
  if (!writable) for (const control of form.querySelectorAll("input, select, textarea, button")) control.disabled = true;

  // Test send (saved configs only): every enabled channel, or one chosen channel.
  let testCard = null;
  if (editing && writable) {
    const channelsById = new Map(saved.channels.map((c, i) => [c.id, i]));
    const testEvent = field(t("test.event"), { type: "select", options: EVENTS.map((e) => [e, label("event", e)]), value: "canary_started", dataset: { testid: "test-event" } });
    const testChannel = field(t("test.channel"), {
      type: "select",
      options: [["", t("test.all_enabled")], ...saved.channels.map((c, i) => [c.id, `${i + 1} · ${label("channel", c.type)}${c.enabled ? "" : ` (${t("cfg.disabled")})`}`])],
      dataset: { testid: "test-channel" },
    });
    const testSlot = h("div", { "aria-live": "polite", dataset: { testid: "test-slot" } });
    const testBtn = button(t("test.send"), {
      kind: "primary",
      testid: "test-send",
      onClick: (ev) =>
        busy(ev.currentTarget, testSlot, async () => {
          mount(testSlot, h("p", { class: "loading", role: "status" }, t("test.sending")));
          const payload = { event_type: testEvent.input.value };
          if (testChannel.input.value) payload.channel_id = testChannel.input.value;
          const result = await post(`${RELEASE}/callbacks/${enc(editing)}/test`, payload);
          mount(testSlot, resultsTable(result.results, channelsById));
        }),
    });
    testCard = section(
      t("test.title"),
      h("p", { class: "help" }, t("test.help")),
      h("div", { class: "filters plain" }, testEvent.wrap, testChannel.wrap, h("div", { class: "align-end" }, testBtn)),
      testSlot,
    );
    testCard.dataset.testid = "test-card";
  }

  const header = h(
    "div",
    { class: "page-header" },
    h(
      "div",
      h("h1", title),
      h("p", { class: "subtitle" }, orgRule ? [link("/ui/rules", t("rule.org")), ": ", t("rule.intro")] : [t("task.project"), ": ", project ? link(`/ui/projects/${enc(projectId)}`, project.name) : projectId], editing ? [" · ", link(`/ui/history?config_id=${enc(editing)}`, t("cfg.history_link"))] : null),
    ),
  );
  const flashNode = flash ? h("div", alertBox(flash.kind, flash.text), flash.warnings ? showWarnings(flash, true) : null) : saved ? showWarnings(saved) : null;
  flash = null;
  if (flashNode) msg.appendChild(flashNode);
  mount(ctx.main, header, msg, testCard, form, previewCard);
  if (writable) ctx.trackChanges(form);
}

