// Projects: the list (and creating one, admin only) and a project's page with its versions,
// callback configs and recent tasks.

import { ApiError, RELEASE, forgetCaches, get, getAll, post, projectMap, projects, put } from "../api.js";
import { h, mount } from "../dom.js";
import { can } from "../session.js";
import { label, t } from "../i18n.js";
import { badge, busy, clearInvalid, field, idLink, link, loading, markInvalid, pageHeader, section, showError, table, time } from "../ui.js";
import { configsTable, labelsText, parseLabels } from "./callbacks.js";
import { projectSettings } from "./project_settings.js";
import { progress } from "./tasks.js";

const enc = encodeURIComponent;

function markFields(form, err) {
  if (!(err instanceof ApiError)) return;
  for (const { field: name, message } of err.fieldErrors()) {
    const control = form.querySelector(`[data-key="${CSS.escape(name)}"]`);
    if (control) markInvalid(control, message);
  }
}

export async function projectsView(ctx) {
  document.title = `${t("nav.projects")} · Herald`;
  const msg = h("div", { class: "msg" });
  const listSlot = h("div", loading());

  async function reload() {
    const list = await projects(true);
    if (!ctx.alive()) return;
    mount(
      listSlot,
      table(
        [
          { label: t("project.name"), cell: (p) => link(`/ui/projects/${enc(p.id)}`, p.name) },
          { label: t("project.description"), class: "wrap", cell: (p) => p.description || h("span", { class: "muted" }, "—") },
          { label: t("project.id"), cell: (p) => h("code", { class: "mono" }, p.id) },
          { label: t("task.created"), cell: (p) => time(p.created_at) },
        ],
        list,
        { empty: [t("project.none"), " ", t("guide.projects")], testid: "projects-table", caption: t("nav.projects") },
      ),
    );
  }

  const fName = field(t("project.name"), { required: true, maxlength: 100, dataset: { key: "name", testid: "project-name" } });
  const fDesc = field(t("project.description"), { maxlength: 2000, dataset: { key: "description" } });
  const createBtn = h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "project-create" } }, t("project.create"));
  const form = h(
    "form",
    {
      class: "card form",
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          clearInvalid(form);
          await busy(createBtn, msg, async () => {
            try {
              const created = await post(`${RELEASE}/projects`, { name: fName.input.value.trim(), description: fDesc.input.value.trim() });
              forgetCaches();
              ctx.navigate(`/ui/projects/${enc(created.id)}`);
            } catch (err) {
              markFields(form, err);
              throw err;
            }
          });
        },
      },
    },
    h("h2", t("project.new")),
    h("p", { class: "help" }, t("project.admin_only")),
    h("div", { class: "grid-2" }, fName.wrap, fDesc.wrap),
    msg,
    h("div", { class: "form-actions" }, createBtn),
  );
  mount(ctx.main, pageHeader(t("nav.projects")), section(null, listSlot), can("admin") ? form : null);
  await reload();
}

export async function projectView(ctx) {
  const id = ctx.params.id;
  const project = await get(`${RELEASE}/projects/${enc(id)}`, null, ctx.signal);
  if (!ctx.alive()) return;
  document.title = `${project.name} · Herald`;
  const projectsById = await projectMap().catch(() => new Map([[project.id, project]]));

  const cfgMsg = h("div", { class: "msg" });
  const cfgSlot = h("div", loading());
  const verSlot = h("div", loading());
  const taskSlot = h("div", loading());
  const verMsg = h("div", { class: "msg" });
  const rulesSlot = h("div", loading());
  const labelsMsg = h("div", { class: "msg", "aria-live": "polite" });

  async function loadRules() {
    const rules = await get(`${RELEASE}/projects/${enc(id)}/rules`, null, ctx.signal);
    if (!ctx.alive()) return;
    mount(
      rulesSlot,
      table(
        [
          { label: t("cfg.name"), cell: (r) => (ctx.isAdmin() ? link(`/ui/callbacks/${enc(r.id)}`, r.name) : r.name) },
          { label: t("cfg.enabled"), cell: (r) => badge("enabled", r.enabled ? "on" : "off") },
          { label: t("cfg.events"), class: "wrap", cell: (r) => r.events.map((e) => label("event", e)).join(t("common.list_sep")) },
          { label: t("rule.reaches"), class: "wrap", cell: (r) => labelsText(r.project_labels) },
          { label: t("cfg.filter_env"), cell: (r) => (r.filters.environments.length ? r.filters.environments.map((e) => label("env", e)).join(t("common.list_sep")) : t("common.all")) },
        ],
        rules,
        { empty: t("rule.none_here"), testid: "project-rules" },
      ),
    );
  }
  const fLabels = field(t("project.labels"), {
    value: Object.entries(project.labels || {}).map(([k, v]) => `${k}=${v}`).join(", "),
    placeholder: "tier=production, team=payments",
    help: t("project.labels_help"),
    dataset: { key: "labels", testid: "project-labels" },
  });
  const labelsBtn = h("button", { type: "submit", class: "btn", dataset: { testid: "project-labels-save" } }, t("common.save"));
  const labelsForm = h(
    "form",
    {
      class: "inline-form",
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          clearInvalid(labelsForm);
          await busy(labelsBtn, labelsMsg, async () => {
            let labels;
            try {
              labels = parseLabels(fLabels.input.value, "labels");
              await put(`${RELEASE}/projects/${enc(id)}/labels`, { labels });
            } catch (err) {
              if (err && err.key) markInvalid(fLabels.input, err.message);
              else markFields(labelsForm, err);
              throw err;
            }
            forgetCaches();
            await loadRules();
          });
        },
      },
    },
    fLabels.wrap,
    h("div", { class: "align-end" }, labelsBtn),
  );
  if (ctx.isAdmin() === false) {
    fLabels.input.disabled = true;
    labelsBtn.hidden = true;
  }

  async function loadConfigs() {
    const configs = await getAll(`${RELEASE}/projects/${enc(id)}/callbacks`);
    if (!ctx.alive()) return;
    mount(cfgSlot, configsTable(configs, projectsById, { reload: loadConfigs, msg: cfgMsg, showProject: false }));
  }
  async function loadVersions() {
    const page = await get(`${RELEASE}/projects/${enc(id)}/versions`, { limit: 20 }, ctx.signal);
    if (!ctx.alive()) return;
    mount(
      verSlot,
      table(
        [
          { label: t("version.name"), cell: (v) => h("strong", v.name) },
          { label: t("project.description"), class: "wrap", cell: (v) => v.description || h("span", { class: "muted" }, "—") },
          { label: t("task.created"), cell: (v) => time(v.created_at) },
        ],
        page.items,
        { empty: t("version.none"), testid: "versions-table" },
      ),
    );
  }
  async function loadTasks() {
    const page = await get(`${RELEASE}/tasks`, { project_id: id, limit: 10 }, ctx.signal);
    if (!ctx.alive()) return;
    mount(
      taskSlot,
      table(
        [
          { label: t("task.id"), cell: (r) => idLink(`/ui/tasks/${enc(r.id)}`, r.id) },
          { label: t("task.strategy"), cell: (r) => label("strategy", r.strategy) },
          { label: t("task.environment"), cell: (r) => label("env", r.environment) },
          { label: t("task.status"), cell: (r) => badge("status", r.status) },
          { label: t("task.progress"), cell: (r) => progress(r.counts, { compact: true }) },
          { label: t("task.created"), cell: (r) => time(r.created_at) },
        ],
        page.items,
        { empty: t("task.none") },
      ),
    );
  }

  const fVer = field(t("version.name"), { required: true, maxlength: 128, placeholder: "v1.2.3", dataset: { key: "name", testid: "version-name" } });
  const fVerDesc = field(t("project.description"), { maxlength: 2000, dataset: { key: "description" } });
  const verBtn = h("button", { type: "submit", class: "btn", dataset: { testid: "version-create" } }, t("version.create"));
  const verForm = h(
    "form",
    {
      class: "inline-form",
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          clearInvalid(verForm);
          await busy(verBtn, verMsg, async () => {
            try {
              await post(`${RELEASE}/projects/${enc(id)}/versions`, { name: fVer.input.value.trim(), description: fVerDesc.input.value.trim() });
            } catch (err) {
              markFields(verForm, err);
              throw err;
            }
            fVer.input.value = "";
            fVerDesc.input.value = "";
            forgetCaches();
            await loadVersions();
          });
        },
      },
    },
    fVer.wrap,
    fVerDesc.wrap,
    h("div", { class: "align-end" }, verBtn),
  );

  const newCfg = link(`/ui/projects/${enc(id)}/callbacks/new`, t("cfg.new"));
  newCfg.classList.add("btn", "btn-primary");
  newCfg.dataset.testid = "config-new";
  const newTask = link(`/ui/tasks/new?project_id=${enc(id)}`, t("task.new"));
  newTask.classList.add("btn");
  const inbound = link(`/ui/projects/${enc(id)}/inbound`, t("inbound.title"));
  inbound.classList.add("btn");
  inbound.dataset.testid = "project-inbound";
  const dests = link(`/ui/projects/${enc(id)}/destinations`, t("nav.destinations"));
  dests.classList.add("btn");
  dests.dataset.testid = "project-destinations";

  mount(
    ctx.main,
    h(
      "div",
      { class: "page-header" },
      h(
        "div",
        h("h1", { dataset: { testid: "project-title" } }, project.name),
        h("p", { class: "subtitle" }, project.description || "", " ", h("code", { class: "mono muted" }, project.id)),
        h("p", { class: "subtitle", dataset: { testid: "project-envs" } }, `${t("project.environments")}: `, (project.environments || []).length ? project.environments.join(", ") : t("project.any_environment")),
      ),
      h("div", { class: "page-actions" }, inbound, dests, ...(can("write", id) ? [newTask, newCfg] : [])),
    ),
    section(t("cfg.title_project"), h("p", { class: "help" }, t("cfg.intro")), cfgMsg, cfgSlot),
    section(t("rule.reaching"), h("p", { class: "help" }, t("rule.reaching_help")), labelsForm, labelsMsg, rulesSlot),
    section(t("task.recent"), taskSlot, h("p", link(`/ui/tasks?project_id=${enc(id)}`, t("task.all_for_project")))),
    section(t("version.title"), verSlot, verMsg, can("write", id) ? verForm : null),
    can("write", id) && projectSettings(ctx, project, { markFields, onSaved: () => ctx.navigate(`/ui/projects/${enc(id)}`) }),
  );
  const results = await Promise.allSettled([loadConfigs(), loadVersions(), loadTasks(), loadRules()]);
  const slots = [cfgSlot, verSlot, taskSlot, rulesSlot];
  results.forEach((r, i) => {
    if (r.status === "rejected" && ctx.alive()) showError(slots[i], r.reason);
  });
}
