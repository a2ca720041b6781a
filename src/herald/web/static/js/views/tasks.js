// Releases: the task list, a task's page (progress, hosts, events, deliveries, actions) and
// the new-task form.

import { ApiError, RELEASE, get, getAll, post, projectMap, projects, versionName, versions } from "../api.js";
import { h, mount } from "../dom.js";
import { can } from "../session.js";
import { label, t } from "../i18n.js";
import {
  alertBox,
  badge,
  deliveryBadge,
  busy,
  button,
  clearInvalid,
  confirmDialog,
  facts,
  field,
  guide,
  idLink,
  link,
  loading,
  markInvalid,
  pageHeader,
  section,
  showError,
  splitList,
  table,
  time,
} from "../ui.js";
import { contextFacts, contextFields, environmentField } from "./release_context.js";

export const STATUSES = ["pending", "running", "awaiting_promotion", "success", "failed", "stopped"];
export const ENVIRONMENTS = ["production", "staging", "development"];
export const STRATEGIES = ["canary", "rolling", "blue_green"];
export const TASK_TYPES = ["deploy", "rollback", "stop"];
const ACTIVE = new Set(["pending", "running", "awaiting_promotion"]);

const enc = encodeURIComponent;

/**
 * The progress bar: success, failed, deploying and cancelled segments over the total (skipped
 * hosts leave the rest empty), with a text summary. Hosts of an ended task are never deploying:
 * they are cancelled (interrupted) or skipped (never started).
 */
export function progress(counts, { compact = false } = {}) {
  const total = counts.total || 0;
  const pct = (n) => (total ? (100 * n) / total : 0);
  const cancelled = counts.cancelled || 0;
  const skipped = counts.skipped || 0;
  const text =
    t("task.progress_text", { done: counts.success, total, failed: counts.failed }) +
    (cancelled || skipped ? t("task.progress_settled", { cancelled, skipped }) : "");
  const bar = h(
    "div",
    {
      class: ["progress", compact && "progress-compact"],
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": total,
      "aria-valuenow": counts.success,
      "aria-valuetext": text,
      "aria-label": t("task.progress"),
      dataset: { testid: "progress" },
    },
    h("span", { class: "seg seg-ok" }),
    h("span", { class: "seg seg-bad" }),
    h("span", { class: "seg seg-run", dataset: { testid: "progress-running" } }),
    h("span", { class: "seg seg-cancel", dataset: { testid: "progress-cancelled" } }),
  );
  // Widths through CSSOM: the CSP forbids inline style attributes, not style properties.
  const [ok, bad, run, cancel] = bar.children;
  ok.style.width = `${pct(counts.success)}%`;
  bad.style.width = `${pct(counts.failed)}%`;
  run.style.width = `${pct(counts.running)}%`;
  cancel.style.width = `${pct(cancelled)}%`;
  if (compact) return h("div", { class: "progress-cell" }, bar, h("span", { class: "progress-label" }, `${counts.success}/${total}`, counts.failed ? h("span", { class: "bad-text" }, ` ✕${counts.failed}`) : null));
  return h("div", { class: "progress-block" }, bar, h("p", { class: "progress-text", dataset: { testid: "progress-text" } }, text));
}

function options(group, values, { all = true } = {}) {
  const list = values.map((v) => [v, label(group, v)]);
  return all ? [["", t("common.all")], ...list] : list;
}

// -- list ---------------------------------------------------------------------------------------

export async function taskListView(ctx) {
  document.title = `${t("nav.tasks")} · Herald`;
  const q = ctx.query;
  const filters = {
    project_id: q.get("project_id") || "",
    status: q.get("status") || "",
    environment: q.get("environment") || "",
    type: q.get("type") || "",
  };
  const allProjects = await projects();
  if (!ctx.alive()) return;
  const byId = new Map(allProjects.map((p) => [p.id, p]));

  const fProject = field(t("filter.project"), {
    type: "select",
    options: [["", t("common.all")], ...allProjects.map((p) => [p.id, p.name])],
    value: filters.project_id,
    dataset: { testid: "filter-project" },
  });
  const fStatus = field(t("filter.status"), { type: "select", options: options("status", STATUSES), value: filters.status, dataset: { testid: "filter-status" } });
  const fEnv = environmentField(ENVIRONMENTS, filters.environment);
  fEnv.input.required = false;
  fEnv.input.dataset.testid = "filter-environment";
  fEnv.wrap.querySelector("label").textContent = t("filter.environment");
  fEnv.wrap.querySelector(".help")?.remove();
  const fType = field(t("filter.type"), { type: "select", options: options("ttype", TASK_TYPES), value: filters.type });
  const slot = h("div");
  const listSlot = h("div", { dataset: { testid: "task-list" } }, loading());
  const more = button(t("common.load_more"), { testid: "load-more" });
  more.hidden = true;

  let rows = [];
  let cursor = null;
  const names = new Map(); // version id → name

  async function fetchPage(after, limit = 50) {
    const page = await get(`${RELEASE}/tasks`, { ...filters, limit, cursor: after }, ctx.signal);
    const missing = new Set(page.items.filter((r) => !names.has(r.version_id)).map((r) => r.project_id));
    await Promise.all(
      [...missing].map(async (pid) => {
        try {
          for (const v of await versions(pid)) names.set(v.id, v.name);
        } catch {
          // names are a nicety; the ids still show
        }
      }),
    );
    return page;
  }

  function draw() {
    mount(
      listSlot,
      table(
        [
          { label: t("task.id"), cell: (r) => idLink(`/ui/tasks/${enc(r.id)}`, r.id) },
          { label: t("task.project"), cell: (r) => (byId.get(r.project_id) ? link(`/ui/projects/${enc(r.project_id)}`, byId.get(r.project_id).name) : r.project_id) },
          { label: t("task.version"), cell: (r) => names.get(r.version_id) || r.version_id },
          { label: t("task.type"), cell: (r) => label("ttype", r.type) },
          { label: t("task.strategy"), cell: (r) => label("strategy", r.strategy) },
          { label: t("task.environment"), cell: (r) => label("env", r.environment) },
          { label: t("task.status"), cell: (r) => badge("status", r.status) },
          { label: t("task.progress"), cell: (r) => progress(r.counts, { compact: true }) },
          { label: t("task.created"), cell: (r) => time(r.created_at) },
        ],
        rows,
        { empty: [t("task.none"), " ", guide(t("guide.tasks"), "/ui/projects", t("nav.projects"))], testid: "tasks-table", caption: t("nav.tasks") },
      ),
    );
    more.hidden = !cursor;
  }

  async function load() {
    try {
      const page = await fetchPage(null);
      if (!ctx.alive()) return;
      rows = page.items;
      cursor = page.next_cursor;
      showError(slot, null);
      draw();
    } catch (err) {
      if (ctx.alive() && err.name !== "AbortError") showError(slot, err);
    }
  }

  more.addEventListener("click", () =>
    busy(more, slot, async () => {
      const page = await fetchPage(cursor);
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      draw();
    }),
  );

  for (const [f, key] of [[fProject, "project_id"], [fStatus, "status"], [fEnv, "environment"], [fType, "type"]]) {
    f.input.addEventListener("change", () => {
      filters[key] = f.input.value;
      ctx.setQuery(filters);
      listSlot.replaceChildren(loading());
      load();
    });
  }

  mount(
    ctx.main,
    pageHeader(t("nav.tasks"), can("write") ? newTaskLink(filters.project_id) : null),
    h("form", { class: "filters", role: "search", on: { submit: (e) => e.preventDefault() } }, fProject.wrap, fStatus.wrap, fEnv.wrap, fType.wrap),
    slot,
    listSlot,
    h("div", { class: "more" }, more),
  );
  await load();
  // Refresh while something on the page is still moving (only the first page is re-read).
  ctx.every(4000, async () => {
    if (!rows.some((r) => ACTIVE.has(r.status))) return;
    try {
      const page = await fetchPage(null, Math.min(200, Math.max(50, rows.length)));
      if (!ctx.alive()) return;
      const fresh = new Map(page.items.map((r) => [r.id, r]));
      rows = rows.map((r) => fresh.get(r.id) || r);
      for (const r of page.items) if (!rows.some((x) => x.id === r.id)) rows.unshift(r);
      draw();
    } catch {
      // keep what is shown; the next tick tries again
    }
  });
}

function newTaskLink(projectId) {
  const a = link(`/ui/tasks/new${projectId ? `?project_id=${enc(projectId)}` : ""}`, t("task.new"));
  a.classList.add("btn", "btn-primary");
  a.dataset.testid = "task-new";
  return a;
}

// -- detail -------------------------------------------------------------------------------------

export async function taskView(ctx) {
  const id = ctx.params.id;
  document.title = `${t("task.title")} ${id.slice(0, 8)} · Herald`;
  const path = `${RELEASE}/tasks/${enc(id)}`;
  let task = await get(path, null, ctx.signal);
  if (!ctx.alive()) return;
  const projectsById = await projectMap().catch(() => new Map());
  const project = projectsById.get(task.project_id);
  const vname = await versionName(task.project_id, task.version_id);
  if (!ctx.alive()) return;

  const msg = h("div", { class: "msg", "aria-live": "polite" });
  const statusSlot = h("span");
  const progressSlot = h("div");
  const factsSlot = h("div");
  const hostsSlot = h("div");
  const eventsSlot = h("div", { dataset: { testid: "events" } });
  const deliveriesSlot = h("div", { dataset: { testid: "task-deliveries" } });

  const startBtn = button(t("task.start"), { kind: "primary", testid: "task-start" });
  const promoteBtn = button(t("task.promote"), { kind: "primary", testid: "task-promote" });
  const stopBtn = button(t("task.stop"), { kind: "danger", testid: "task-stop" });
  const rollbackBtn = button(t("task.rollback"), { testid: "task-rollback" });

  async function act(btn, verb, body) {
    await busy(btn, msg, async () => {
      task = await post(`${path}/${verb}`, body);
      update();
      refresh();
    });
    drawButtons();
  }
  // Start and promote touch real hosts: each asks first.
  startBtn.addEventListener("click", async () => {
    const hosts = task.hosts.length;
    if (!(await confirmDialog(t("task.start_confirm", { n: hosts, env: label("env", task.environment) }), { confirmLabel: t("task.start") }))) return;
    await act(startBtn, "start");
  });
  promoteBtn.addEventListener("click", async () => {
    const rest = task.hosts.length - task.canary_count;
    if (!(await confirmDialog(t("task.promote_confirm", { n: rest }), { confirmLabel: t("task.promote") }))) return;
    await act(promoteBtn, "promote");
  });
  // Rollback applies only when an earlier successful release of another version exists in the
  // same project and environment (what POST /rollback looks for).
  const earlier = await get(`${RELEASE}/tasks`, { project_id: task.project_id, environment: task.environment, status: "success", limit: 200 }, ctx.signal).catch(() => ({ items: [] }));
  if (!ctx.alive()) return;
  const rollbackTarget = earlier.items.find((r) => r.created_at < task.created_at && r.version_id !== task.version_id) || null;
  stopBtn.addEventListener("click", async () => {
    const answer = await confirmDialog(t("task.stop_confirm"), {
      danger: true,
      confirmLabel: t("task.stop"),
      input: { label: t("task.stop_reason"), placeholder: t("task.stop_reason_placeholder") },
    });
    if (answer === false) return;
    await act(stopBtn, "stop", typeof answer === "string" ? { reason: answer } : undefined);
  });
  rollbackBtn.addEventListener("click", async () => {
    if (!(await confirmDialog(t("task.rollback_confirm"), { confirmLabel: t("task.rollback") }))) return;
    await busy(rollbackBtn, msg, async () => {
      const created = await post(`${path}/rollback`);
      ctx.navigate(`/ui/tasks/${enc(created.id)}`);
    });
  });

  function drawButtons() {
    startBtn.disabled = task.status !== "pending";
    promoteBtn.disabled = task.status !== "awaiting_promotion";
    stopBtn.disabled = !ACTIVE.has(task.status);
    rollbackBtn.disabled = !rollbackTarget;
    for (const [btn, reason] of [
      [startBtn, "task.start_hint"],
      [promoteBtn, "task.promote_hint"],
      [stopBtn, "task.stop_hint"],
      [rollbackBtn, "task.rollback_hint"],
    ]) {
      if (btn.disabled) btn.title = t(reason, { status: label("status", task.status), env: label("env", task.environment) });
      else btn.removeAttribute("title");
    }
  }

  function update() {
    mount(statusSlot, badge("status", task.status, "task-status"));
    mount(progressSlot, progress(task.counts));
    const canary = new Set(task.hosts.slice(0, task.canary_count));
    mount(
      factsSlot,
      facts(
        [
          [t("task.project"), project ? link(`/ui/projects/${enc(project.id)}`, project.name) : task.project_id],
          [t("task.version"), vname || task.version_id],
          [t("task.phase"), task.phase ? h("span", { dataset: { testid: "task-phase" } }, label("phase", task.phase)) : "—"],
          [t("task.type"), label("ttype", task.type)],
          [t("task.strategy"), label("strategy", task.strategy) + (task.strategy === "canary" ? ` (${task.canary_count})` : "")],
          (task.canary_steps || []).length > 1 ? [t("task.steps"), stepProgress(task)] : null,
          [t("task.environment"), label("env", task.environment)],
          [t("task.batch_size"), String(task.batch_size)],
          [t("task.max_failed"), String(task.max_failed)],
          [t("task.executor"), executorText(task.executor)],
          [t("task.created"), time(task.created_at)],
          [t("task.started"), time(task.started_at)],
          [t("task.finished"), time(task.finished_at)],
          [t("task.duration"), task.started_at ? task.duration : "—"],
          task.auto_promote_after !== null ? [t("task.auto_promote"), t("common.seconds", { n: task.auto_promote_after })] : null,
          task.long_running_after !== null ? [t("task.long_running_after"), t("common.seconds", { n: task.long_running_after })] : null,
          task.rollback_of ? [t("task.rollback_of"), idLink(`/ui/tasks/${enc(task.rollback_of)}`, task.rollback_of)] : null,
          task.reason ? [t("task.reason"), h("span", { dataset: { testid: "task-reason" } }, task.reason)] : null,
        ],
        "task-facts",
      ),
    );
    mount(
      hostsSlot,
      table(
        [
          { label: t("host.host"), cell: (r) => h("span", { class: "mono" }, r.host, canary.has(r.host) ? h("span", { class: "tag" }, t("host.canary")) : null) },
          { label: t("host.status"), cell: (r) => hostStatus(r.status) },
          { label: t("host.exit_code"), cell: (r) => (r.exit_code === null ? "—" : String(r.exit_code)) },
          { label: t("host.started"), cell: (r) => time(r.started_at) },
          { label: t("host.finished"), cell: (r) => time(r.finished_at) },
          { label: t("host.output"), cell: (r) => (r.output ? outputCell(r.output) : h("span", { class: "muted" }, "—")) },
        ],
        task.host_results,
        { testid: "hosts-table", caption: t("task.hosts") },
      ),
    );
    drawButtons();
  }

  function drawEvents(events) {
    if (!events.length) {
      mount(eventsSlot, h("p", { class: "empty" }, t("task.no_events")));
      return;
    }
    mount(
      eventsSlot,
      h(
        "ol",
        { class: "timeline" },
        events.map((e) =>
          h(
            "li",
            { dataset: { event: e.event_type } },
            h("span", { class: "timeline-dot" }),
            h("strong", label("event", e.event_type)),
            " ",
            h("span", { class: "muted mono" }, e.event_type),
            " · ",
            time(e.created_at),
            h(
              "div",
              { class: "muted" },
              t("task.event_summary", {
                done: e.payload.deployment.completed_count,
                total: e.payload.deployment.total_count,
                failed: e.payload.deployment.failed_count,
                hosts: e.payload.deployment.hosts.slice(0, 8).join(", ") + (e.payload.deployment.hosts.length > 8 ? " …" : ""),
              }),
            ),
          ),
        ),
      ),
    );
  }

  let deliveries = [];
  const configNames = new Map(
    (await getAll(`${RELEASE}/projects/${enc(task.project_id)}/callbacks`).catch(() => [])).map((c) => [c.id, c.name]),
  );
  if (!ctx.alive()) return;
  function drawDeliveries() {
    mount(
      deliveriesSlot,
      table(
        [
          { label: t("history.time"), cell: (d) => link(`/ui/history/${enc(d.id)}`, time(d.created_at)) },
          { label: t("history.event"), cell: (d) => label("event", d.event_type) },
          // Two DingTalk rows are told apart by the config that sent them.
          { label: t("history.config"), cell: (d) => (configNames.has(d.config_id) ? link(`/ui/callbacks/${enc(d.config_id)}`, configNames.get(d.config_id)) : h("span", { class: "mono" }, d.config_id.slice(0, 8))) },
          { label: t("history.channel"), cell: (d) => label("channel", d.channel_type) },
          { label: t("history.status"), cell: (d) => deliveryBadge(d) },
          { label: t("history.outcome"), cell: (d) => badge("outcome", d.last_outcome) },
          { label: t("history.attempts"), cell: (d) => `${d.attempts}/${d.max_attempts}` },
        ],
        deliveries,
        { empty: t("task.no_deliveries") },
      ),
    );
  }

  async function refresh() {
    try {
      const [fresh, events, page] = await Promise.all([
        get(path, null, ctx.signal),
        get(`${path}/events`, null, ctx.signal),
        get(`${path}/callbacks`, { limit: 50 }, ctx.signal),
      ]);
      if (!ctx.alive()) return;
      task = fresh;
      deliveries = page.items;
      update();
      drawEvents(events);
      drawDeliveries();
    } catch (err) {
      if (ctx.alive() && err.name !== "AbortError" && !(err instanceof ApiError && err.status === 401)) showError(msg, err);
    }
  }

  mount(
    ctx.main,
    h(
      "div",
      { class: "page-header" },
      h("div", h("h1", t("task.title"), " ", h("span", { class: "mono title-id" }, id.slice(0, 8)), " ", statusSlot),
        h("p", { class: "subtitle" }, project ? project.name : "", vname ? ` · ${vname}` : "", ` · ${label("env", task.environment)}`)),
      // Only for tokens that may change this project: a viewer sees the release, not the levers.
      can("write", task.project_id)
        ? h("div", { class: "page-actions", role: "group", "aria-label": t("task.actions") }, startBtn, promoteBtn, stopBtn, rollbackBtn)
        : null,
    ),
    msg,
    section(t("task.progress"), progressSlot),
    section(t("task.details"), factsSlot),
    contextFacts(task) ? section(t("ctx.title"), contextFacts(task)) : null,
    section(t("task.hosts"), hostsSlot),
    section(t("task.events"), eventsSlot),
    section(
      t("task.deliveries"),
      deliveriesSlot,
      h("p", link(`/ui/history?task_id=${enc(id)}`, t("task.all_deliveries"))),
    ),
  );
  update();
  await refresh();
  // Auto-refresh while the task moves, and while its notifications are still on their way.
  ctx.every(1500, () => {
    if (ACTIVE.has(task.status) || deliveries.some((d) => d.status === "pending")) refresh();
  });
}

/** A host's status; the final statuses of an ended task explain themselves on hover. */
function hostStatus(status) {
  const pill = badge("hstatus", status);
  if (status === "cancelled" || status === "skipped") pill.title = t(`hstatus_hint.${status}`);
  return pill;
}

function outputCell(text) {
  if (text.length <= 80 && !text.includes("\n")) return h("code", { class: "output" }, text);
  return h("details", h("summary", text.slice(0, 60) + "…"), h("pre", { class: "code", tabindex: "0" }, text));
}

function executorText(executor) {
  if (!executor) return "—";
  if (executor.type === "simulated") {
    const fails = executor.fail_hosts && executor.fail_hosts.length ? `, ${t("task.fail_hosts")}: ${executor.fail_hosts.join(", ")}` : "";
    return `${label("executor", "simulated")} (${t("task.per_host", { n: executor.host_seconds })}${fails})`;
  }
  if (executor.type === "command") return `${label("executor", "command")}: ${executor.name}`;
  return label("executor", executor.type);
}

/** A multi-step canary's steps as chips: done, in progress (the first not done while the
 * canary phase runs), or to come. */
function stepProgress(task) {
  const steps = task.canary_steps;
  const current = task.status === "running" && task.phase === "canary" ? steps.find((s) => !s.done) : null;
  return h(
    "span",
    { class: "steps", dataset: { testid: "task-steps" } },
    steps.map((s) => {
      const hosts = s.hosts === 1 ? t("task.step_host_one") : t("task.step_hosts", { n: s.hosts });
      const size = s.weight !== null ? `${s.weight}% · ${hosts}` : hosts;
      const state = s.done ? "done" : s === current ? "current" : "todo";
      const tip = s.done ? t("task.step_done") : s === current ? t("task.step_current") : "";
      return h("span", { class: `step step-${state}`, title: tip, dataset: { state } }, t("task.step_chip", { index: s.index, total: steps.length, size }));
    }),
  );
}

/** "10, 50,100" → [{weight: 10}, …] (or hosts); null when empty, the raw text when malformed so
 * the server names the problem. */
export function parseSteps(text, unit) {
  const parts = splitList(text);
  if (!parts.length) return null;
  return parts.map((p) => p.replace(/%$/, "")).map((p) => (/^\d+$/.test(p) ? { [unit]: Number(p) } : { [unit]: p }));
}

// -- new task -----------------------------------------------------------------------------------

export async function newTaskView(ctx) {
  document.title = `${t("task.new")} · Herald`;
  // Only the projects this token may release to (a viewer has none and is told so).
  const allProjects = (await projects(true)).filter((p) => can("write", p.id));
  if (!ctx.alive()) return;
  if (!can("write")) {
    mount(ctx.main, pageHeader(t("task.new")), alertBox("info", t("role.read_only")));
    return;
  }
  if (!allProjects.length) {
    mount(ctx.main, pageHeader(t("task.new")), h("p", { class: "empty" }, t("task.need_project"), " ", link("/ui/projects", t("nav.projects"))));
    return;
  }
  const preset = ctx.query.get("project_id") || allProjects[0].id;
  const msg = h("div", { class: "msg" });
  const fProject = field(t("task.project"), { type: "select", options: allProjects.map((p) => [p.id, p.name]), value: preset, dataset: { key: "project_id", testid: "task-project" } });
  const fVersion = field(t("task.version"), { type: "select", options: [], dataset: { key: "version_id", testid: "task-version" } });
  const fNewVersion = field(t("task.new_version"), { placeholder: "v1.2.3", help: t("task.new_version_help"), dataset: { testid: "task-new-version" } });
  const fStrategy = field(t("task.strategy"), { type: "select", options: options("strategy", STRATEGIES, { all: false }), value: "canary", dataset: { key: "strategy", testid: "task-strategy" } });
  const envChoices = () => {
    const chosen = allProjects.find((p) => p.id === fProject.input.value);
    return chosen && chosen.environments && chosen.environments.length ? chosen.environments : ENVIRONMENTS;
  };
  const fEnv = environmentField(envChoices(), envChoices().includes("staging") ? "staging" : envChoices()[0]);
  const fContext = contextFields();
  const fType = field(t("task.type"), { type: "select", options: options("ttype", TASK_TYPES, { all: false }), value: "deploy", dataset: { key: "type" } });
  const fHosts = field(t("task.hosts"), { type: "textarea", rows: 4, help: t("task.hosts_help"), dataset: { key: "hosts", testid: "task-hosts" } });
  const fCanary = field(t("task.canary_count"), { type: "number", min: 1, value: 1, dataset: { key: "canary_count", testid: "task-canary" } });
  const fSteps = field(t("task.canary_steps"), { placeholder: "10,50,100", help: t("task.canary_steps_help"), dataset: { key: "canary_steps", testid: "task-steps-input" } });
  const fStepUnit = field(t("task.step_unit"), {
    type: "select",
    options: ["weight", "hosts"].map((v) => [v, t(`task.step_unit.${v}`)]),
    value: "weight",
    dataset: { testid: "task-step-unit" },
  });
  const fBatch = field(t("task.batch_size"), { type: "number", min: 1, value: 1, dataset: { key: "batch_size", testid: "task-batch" } });
  const fMaxFailed = field(t("task.max_failed"), { type: "number", min: 0, value: 0, dataset: { key: "max_failed" } });
  const fExecutor = field(t("task.executor"), {
    type: "select",
    options: ["simulated", "external", "command"].map((v) => [v, label("executor", v)]),
    value: "simulated",
    dataset: { key: "executor.type", testid: "task-executor" },
  });
  const fHostSeconds = field(t("task.host_seconds"), { type: "number", min: 0, step: "any", value: 0.2, dataset: { key: "executor.host_seconds", testid: "task-host-seconds" } });
  const fFailHosts = field(t("task.fail_hosts"), { help: t("task.fail_hosts_help"), dataset: { key: "executor.fail_hosts" } });
  const fCommand = field(t("task.command_name"), { dataset: { key: "executor.name" } });
  const fAuto = field(t("task.auto_promote"), { type: "number", min: 0, step: "any", help: t("task.auto_promote_help"), dataset: { key: "auto_promote_after" } });
  const fLong = field(t("task.long_running_after"), { type: "number", min: 1, step: "any", help: t("task.long_running_help"), dataset: { key: "long_running_after" } });

  async function loadVersions(force = false) {
    const list = await versions(fProject.input.value, force).catch(() => []);
    mount(fVersion.input, list.map((v) => h("option", { value: v.id }, v.name)));
    fVersion.input.disabled = !list.length;
  }
  fProject.input.addEventListener("change", () => {
    loadVersions();
    fEnv.choose(envChoices());
  });

  function syncVisibility() {
    const canary = fStrategy.input.value === "canary";
    fCanary.wrap.hidden = !canary || fSteps.input.value.trim() !== "";
    fSteps.wrap.hidden = !canary;
    fStepUnit.wrap.hidden = !canary;
    fAuto.wrap.hidden = !canary;
    const ex = fExecutor.input.value;
    fHostSeconds.wrap.hidden = ex !== "simulated";
    fFailHosts.wrap.hidden = ex !== "simulated";
    fCommand.wrap.hidden = ex !== "command";
  }
  fStrategy.input.addEventListener("change", syncVisibility);
  fSteps.input.addEventListener("input", syncVisibility);
  fExecutor.input.addEventListener("change", syncVisibility);

  const num = (input) => (input.value === "" ? undefined : Number(input.value));

  async function submit(start, btn) {
    clearInvalid(form);
    await busy(btn, msg, async () => {
      const projectId = fProject.input.value;
      let versionId = fVersion.input.value;
      const ex = fExecutor.input.value;
      const executor = { type: ex };
      if (ex === "simulated") {
        if (fHostSeconds.input.value !== "") executor.host_seconds = Number(fHostSeconds.input.value);
        executor.fail_hosts = splitList(fFailHosts.input.value);
      } else if (ex === "command") {
        executor.name = fCommand.input.value.trim();
      }
      const canary = fStrategy.input.value === "canary";
      const steps = canary ? parseSteps(fSteps.input.value, fStepUnit.input.value) : null;
      const body = {
        project_id: projectId,
        version_id: versionId,
        type: fType.input.value,
        strategy: fStrategy.input.value,
        environment: fEnv.input.value.trim(),
        hosts: splitList(fHosts.input.value),
        canary_count: canary && !steps ? num(fCanary.input) : 0,
        canary_steps: steps,
        batch_size: num(fBatch.input),
        max_failed: num(fMaxFailed.input),
        executor,
        auto_promote_after: canary ? num(fAuto.input) ?? null : null,
        long_running_after: num(fLong.input) ?? null,
        context: fContext.value(),
      };
      const newVersion = fNewVersion.input.value.trim();
      if (newVersion) {
        // Versions cannot be deleted, so check the rest of the form before creating one: the
        // probe names a version that cannot exist, and the server answers 404 only when all
        // else is acceptable. A refused task then leaves no stray version behind.
        try {
          await post(`${RELEASE}/tasks`, { ...body, version_id: "0" });
        } catch (err) {
          if (err.status !== 404) {
            mapErrors(form, err);
            throw err;
          }
        }
        try {
          const created = await post(`${RELEASE}/projects/${enc(projectId)}/versions`, { name: newVersion });
          versionId = created.id;
          fNewVersion.input.value = "";
          await loadVersions(true);
          fVersion.input.value = versionId;
        } catch (err) {
          for (const fe of err.fieldErrors ? err.fieldErrors() : []) markInvalid(fNewVersion.input, fe.message);
          throw err;
        }
      }
      body.version_id = versionId;
      let created;
      try {
        created = await post(`${RELEASE}/tasks`, body);
      } catch (err) {
        mapErrors(form, err);
        throw err;
      }
      ctx.saved();
      if (start) await post(`${RELEASE}/tasks/${enc(created.id)}/start`);
      ctx.navigate(`/ui/tasks/${enc(created.id)}`);
    });
  }

  const createBtn = h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "task-create" } }, t("task.create"));
  const createStartBtn = button(t("task.create_start"), { testid: "task-create-start" });
  createStartBtn.addEventListener("click", () => {
    if (form.reportValidity()) submit(true, createStartBtn);
  });
  const form = h(
    "form",
    {
      class: "card form",
      dataset: { testid: "task-form" },
      on: {
        submit: (ev) => {
          ev.preventDefault();
          submit(false, createBtn);
        },
      },
    },
    h("div", { class: "grid-2" }, fProject.wrap, h("div", { class: "stack" }, fVersion.wrap, fNewVersion.wrap)),
    h("div", { class: "grid-3" }, fStrategy.wrap, fEnv.wrap, fType.wrap),
    fHosts.wrap,
    h("div", { class: "grid-3" }, fSteps.wrap, fStepUnit.wrap, fCanary.wrap),
    h("div", { class: "grid-3" }, fBatch.wrap, fMaxFailed.wrap),
    h("div", { class: "grid-3" }, fExecutor.wrap, fHostSeconds.wrap, fFailHosts.wrap, fCommand.wrap),
    h("div", { class: "grid-2" }, fAuto.wrap, fLong.wrap),
    fContext.wrap,
    msg,
    h("div", { class: "form-actions" }, createBtn, createStartBtn, link("/ui/tasks", t("common.cancel"))),
  );
  fHosts.input.required = true;
  mount(ctx.main, pageHeader(t("task.new")), form);
  ctx.trackChanges(form);
  syncVisibility();
  await loadVersions();
}

/** Put each field error next to the control whose data-key matches (longest prefix wins). */
export function mapErrors(root, err) {
  if (!(err instanceof ApiError)) return;
  for (const { field: name, message } of err.fieldErrors()) {
    let key = name;
    let control = null;
    while (key && !control) {
      control = root.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (!control) key = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
    }
    if (control) markInvalid(control, message);
  }
}

