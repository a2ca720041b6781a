// Delivery history: filters with keyset "load more", and one delivery with every attempt,
// digest members and resend.

import { RELEASE, channelTypes, get, getAll, post, projectMap } from "../api.js";
import { clear, formatJson, h, mount } from "../dom.js";
import { formatMs, formatTime, label, t } from "../i18n.js";
import { can } from "../session.js";
import {
  alertBox,
  badge,
  deliveryBadge,
  busy,
  button,
  confirmDialog,
  facts,
  field,
  guide,
  idLink,
  link,
  loading,
  pre,
  section,
  showError,
  table,
  time,
  toIso,
  toLocalInput,
} from "../ui.js";
import { EVENTS } from "./callbacks.js";

const enc = encodeURIComponent;
const FILTERS = ["project_id", "task_id", "config_id", "channel_type", "event_type", "kind", "status", "since", "until"];

function opts(group, values) {
  return [["", t("common.all")], ...values.map((v) => [v, label(group, v)])];
}

export async function historyView(ctx) {
  document.title = `${t("nav.history")} · Herald`;
  const filters = {};
  for (const key of FILTERS) filters[key] = ctx.query.get(key) || "";
  const [projectsById, configs, types] = await Promise.all([projectMap(), getAll(`${RELEASE}/callbacks`).catch(() => []), channelTypes()]);
  if (!ctx.alive()) return;
  const configsById = new Map(configs.map((c) => [c.id, c]));

  const f = {
    project_id: field(t("filter.project"), { type: "select", options: [["", t("common.all")], ...[...projectsById.values()].map((p) => [p.id, p.name])], value: filters.project_id, dataset: { testid: "h-project" } }),
    config_id: field(t("filter.config"), {
      type: "select",
      options: [["", t("common.all")], ...configs.map((c) => [c.id, `${c.name} (${projectsById.get(c.project_id)?.name || "?"})`]), ...(filters.config_id && !configsById.has(filters.config_id) ? [[filters.config_id, filters.config_id]] : [])],
      value: filters.config_id,
      dataset: { testid: "h-config" },
    }),
    task_id: field(t("filter.task"), { value: filters.task_id, placeholder: t("filter.task_placeholder"), class: "mono", dataset: { testid: "h-task" } }),
    channel_type: field(t("filter.channel"), { type: "select", options: opts("channel", types.map((c) => c.type)), value: filters.channel_type, dataset: { testid: "h-channel" } }),
    event_type: field(t("filter.event"), { type: "select", options: opts("event", EVENTS), value: filters.event_type, dataset: { testid: "h-event" } }),
    kind: field(t("filter.kind"), { type: "select", options: opts("kind", ["event", "digest", "test"]), value: filters.kind, dataset: { testid: "h-kind" } }),
    status: field(t("filter.status"), { type: "select", options: opts("dstatus", ["pending", "success", "failed", "muted", "dropped"]), value: filters.status, dataset: { testid: "h-status" } }),
    since: field(t("filter.since"), { type: "datetime-local", value: toLocalInput(filters.since), dataset: { testid: "h-since" } }),
    until: field(t("filter.until"), { type: "datetime-local", value: toLocalInput(filters.until), dataset: { testid: "h-until" } }),
  };

  const msg = h("div", { class: "msg" });
  const listSlot = h("div", { dataset: { testid: "history-list" } }, loading());
  const more = button(t("common.load_more"), { testid: "history-more" });
  more.hidden = true;
  let rows = [];
  let cursor = null;
  // Page size: 50, or ?limit= (1–200) for people who want longer or shorter pages.
  const pageSize = Math.min(200, Math.max(1, Number(ctx.query.get("limit")) || 50));

  function read() {
    for (const key of FILTERS) {
      const input = f[key].input;
      filters[key] = key === "since" || key === "until" ? toIso(input.value) : input.value.trim();
    }
  }

  function draw() {
    mount(
      listSlot,
      table(
        [
          { label: t("history.time"), cell: (d) => link(`/ui/history/${enc(d.id)}`, time(d.created_at)) },
          { label: t("task.project"), cell: (d) => projectsById.get(d.project_id)?.name || d.project_id },
          { label: t("history.task"), cell: (d) => (d.task_id ? idLink(`/ui/tasks/${enc(d.task_id)}`, d.task_id) : h("span", { class: "muted" }, "—")) },
          // The kind is a tag on the event (only when not a plain event): one column fewer at 1280 px.
          { label: t("history.event"), cell: (d) => h("span", label("event", d.event_type), d.kind !== "event" ? h("span", { class: "tag", dataset: { kind: d.kind } }, label("kind", d.kind), d.digest_size ? ` ×${d.digest_size}` : "") : "", d.digest_id ? h("span", { class: "tag" }, t("history.merged")) : "") },
          { label: t("history.channel"), cell: (d) => label("channel", d.channel_type) },
          { label: t("history.config"), cell: (d) => (configsById.get(d.config_id) ? link(`/ui/callbacks/${enc(d.config_id)}`, configsById.get(d.config_id).name) : h("span", { class: "mono" }, d.config_id.slice(0, 8))) },
          { label: t("history.status"), cell: (d) => deliveryBadge(d) },
          // The platform's code sits under the outcome: one column fewer at 1280 px.
          { label: t("history.outcome"), cell: (d) => h("span", { class: "stack" }, badge("outcome", d.last_outcome), d.platform_code ? h("code", { title: t("history.code") }, d.platform_code) : null) },
          { label: t("history.attempts"), cell: (d) => `${d.attempts}/${d.max_attempts}` },
          { label: t("history.latency"), cell: (d) => formatMs(d.latency_ms) },
          { label: "", cell: (d) => link(`/ui/history/${enc(d.id)}`, t("common.details")) },
        ],
        rows,
        { empty: [t("history.none"), " ", guide(t("guide.history"), "/ui/callbacks", t("nav.callbacks"))], testid: "history-table", caption: t("nav.history") },
      ),
    );
    more.hidden = !cursor;
  }

  async function load() {
    read();
    ctx.setQuery(pageSize === 50 ? filters : { ...filters, limit: pageSize });
    try {
      const page = await get(`${RELEASE}/callbacks/history`, { ...filters, limit: pageSize }, ctx.signal);
      if (!ctx.alive()) return;
      rows = page.items;
      cursor = page.next_cursor;
      showError(msg, null);
      draw();
    } catch (err) {
      if (ctx.alive() && err.name !== "AbortError") showError(msg, err);
    }
  }

  more.addEventListener("click", () =>
    busy(more, msg, async () => {
      const page = await get(`${RELEASE}/callbacks/history`, { ...filters, limit: pageSize, cursor }, ctx.signal);
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      draw();
    }),
  );

  const form = h(
    "form",
    {
      class: "filters filters-wide",
      role: "search",
      dataset: { testid: "history-filters" },
      on: {
        submit: (ev) => {
          ev.preventDefault();
          load();
        },
      },
    },
    Object.values(f).map((x) => x.wrap),
    h(
      "div",
      { class: "align-end filter-buttons" },
      h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "history-apply" } }, t("common.apply")),
      button(t("common.reset"), {
        onClick: () => {
          for (const key of FILTERS) f[key].input.value = "";
          load();
        },
      }),
    ),
  );
  for (const key of ["project_id", "config_id", "channel_type", "event_type", "kind", "status"]) {
    f[key].input.addEventListener("change", () => load());
  }

  mount(ctx.main, h("div", { class: "page-header" }, h("h1", t("nav.history"))), form, msg, listSlot, h("div", { class: "more" }, more));
  await load();
}

/** The recorded request as a shell command (secrets stay masked, as recorded). */
export function curlCommand(request) {
  const quote = (text) => `'${String(text).replace(/'/g, "'\\''")}'`;
  const parts = [`curl -X ${request.method || "POST"} ${quote(request.url || "")}`];
  for (const [k, v] of Object.entries(request.headers || {})) parts.push(`-H ${quote(`${k}: ${v}`)}`);
  const body = request.body;
  if (body !== undefined && body !== null && body !== "") parts.push(`--data-raw ${quote(typeof body === "string" ? body : JSON.stringify(body))}`);
  return parts.join(" \\\n  ");
}

function requestView(request) {
  if (!request || !Object.keys(request).length) return h("p", { class: "muted" }, t("history.no_request"));
  const headers = request.headers || {};
  const copy = button(t("history.copy_curl"), { testid: "copy-curl" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(curlCommand(request));
      copy.textContent = t("history.copied");
    } catch {
      copy.textContent = t("history.copy_failed");
    }
  });
  return h(
    "div",
    { class: "request" },
    h("p", h("code", { class: "wrap-anywhere" }, `${request.method || ""} ${request.url || ""}`), " ", copy),
    Object.keys(headers).length
      ? h(
          "table",
          { class: "table table-compact" },
          h("caption", { class: "sr-only" }, t("history.headers")),
          h("tbody", Object.entries(headers).map(([k, v]) => h("tr", h("th", { scope: "row" }, k), h("td", h("code", { class: "wrap-anywhere" }, String(v)))))),
        )
      : null,
    request.body !== undefined && request.body !== null && request.body !== "" ? pre(formatJson(request.body), "request-body") : null,
  );
}

function attemptCard(a, index) {
  return h(
    "article",
    { class: ["attempt", `attempt-${a.outcome}`], dataset: { testid: "attempt", outcome: a.outcome } },
    h(
      "header",
      h("h3", t("history.attempt_n", { n: a.attempt })),
      badge("outcome", a.outcome),
      h("span", { class: "muted" }, label("trigger", a.trigger)),
      time(a.created_at),
      h("span", { class: "muted" }, formatMs(a.latency_ms)),
    ),
    facts([
      [t("history.http"), a.response_status === null ? "—" : String(a.response_status)],
      [t("history.code"), a.platform_code ? h("code", a.platform_code) : "—"],
      a.error ? [t("history.error"), h("span", { class: "bad-text", dataset: { testid: "attempt-error" } }, a.error)] : null,
      a.note ? [t("history.note"), h("span", { dataset: { testid: "attempt-note" } }, a.note)] : null,
    ]),
    h("details", { open: index === 0 }, h("summary", t("history.request")), requestView(a.request)),
    h("details", { open: index === 0 && Boolean(a.response) }, h("summary", t("history.response")), a.response ? pre(formatJson(a.response), "response-body") : h("p", { class: "muted" }, t("history.no_response"))),
  );
}

export async function deliveryView(ctx) {
  const id = ctx.params.id;
  const path = `${RELEASE}/callbacks/history/${enc(id)}`;
  let d = await get(path, null, ctx.signal);
  if (!ctx.alive()) return;
  document.title = `${t("history.delivery")} ${id.slice(0, 8)} · Herald`;
  const projectsById = await projectMap().catch(() => new Map());
  const msg = h("div", { class: "msg", "aria-live": "polite" });
  const body = h("div");
  const resendBtn = button(t("history.resend"), { kind: "primary", testid: "resend" });
  const releaseBtn = button(t("mute.release"), { kind: "primary", testid: "release" });
  const dropBtn = button(t("mute.drop"), { kind: "danger", testid: "drop" });
  for (const [btn, action, question] of [
    [releaseBtn, "release", "mute.release_one_confirm"],
    [dropBtn, "drop", "mute.drop_one_confirm"],
  ]) {
    btn.addEventListener("click", async () => {
      if (!(await confirmDialog(t(question), { confirmLabel: btn.textContent, danger: action === "drop" }))) return;
      await busy(btn, msg, async () => {
        await post(`${path}/${action}`);
        d = await get(path, null, ctx.signal);
        draw();
        mount(msg, h("div", { class: "alert alert-ok", role: "status" }, t(action === "drop" ? "mute.dropped_one" : "mute.released_one")));
      });
    });
  }
  // An open circuit or a platform penalty on the target holds a resend back: say so up front.
  const targets = await get(`${RELEASE}/callbacks/targets`, null, ctx.signal).catch(() => []);
  if (!ctx.alive()) return;
  const target = targets.find((x) => x.key === d.target_key) || null;
  function heldBack() {
    if (!target) return null;
    const now = Date.now();
    if (target.penalty_until && Date.parse(target.penalty_until) > now) return t("history.resend_penalty", { time: formatTime(target.penalty_until) });
    if (target.circuit === "open") return t("history.resend_circuit", { n: target.consecutive_failures, time: target.probe_at ? formatTime(target.probe_at) : "—" });
    return null;
  }
  resendBtn.addEventListener("click", async () => {
    const wait = heldBack();
    const question = wait ? `${t("history.resend_confirm")} ${wait}` : t("history.resend_confirm");
    if (!(await confirmDialog(question, { confirmLabel: t("history.resend") }))) return;
    await busy(resendBtn, msg, async () => {
      d = { ...d, ...(await post(`${path}/resend`)) };
      draw();
      const wait = heldBack();
      mount(msg, wait ? alertBox("warn", t("history.resend_queued_later"), " ", h("span", { dataset: { testid: "resend-wait" } }, wait)) : h("div", { class: "alert alert-ok", role: "status" }, t("history.resend_queued")));
    });
    resendBtn.disabled = d.status === "pending";
  });

  function draw() {
    const held = d.status === "muted";
    resendBtn.hidden = held;
    releaseBtn.hidden = dropBtn.hidden = !held;
    resendBtn.disabled = d.status === "pending";
    resendBtn.title = d.status === "pending" ? t("history.resend_pending") : "";
    const project = projectsById.get(d.project_id);
    mount(
      body,
      section(
        null,
        facts(
          [
            [t("history.status"), deliveryBadge(d, "delivery-status")],
            [t("history.outcome"), badge("outcome", d.last_outcome, "delivery-outcome")],
            [t("history.kind"), label("kind", d.kind)],
            [t("history.event"), label("event", d.event_type)],
            [t("history.channel"), label("channel", d.channel_type)],
            [t("task.project"), project ? link(`/ui/projects/${enc(project.id)}`, project.name) : d.project_id],
            [t("history.task"), d.task_id ? idLink(`/ui/tasks/${enc(d.task_id)}`, d.task_id) : "—"],
            [t("history.config"), link(`/ui/callbacks/${enc(d.config_id)}`, d.config_id.slice(0, 8) + "…")],
            [t("history.attempts"), `${d.attempts}/${d.max_attempts}`],
            [t("history.code"), d.platform_code ? h("code", d.platform_code) : "—"],
            [t("history.http"), d.http_status === null ? "—" : String(d.http_status)],
            [t("history.latency"), formatMs(d.latency_ms)],
            [t("history.created"), time(d.created_at)],
            [t("history.finished"), time(d.finished_at)],
            d.next_attempt_at ? [t("history.next_attempt"), time(d.next_attempt_at)] : null,
            d.digest_id ? [t("history.digest"), h("span", { dataset: { testid: "digest-link" } }, link(`/ui/history/${enc(d.digest_id)}`, t("history.in_digest", { id: d.digest_id.slice(0, 8) })))] : null,
            d.digest_size ? [t("history.digest_size"), String(d.digest_size)] : null,
            d.mute_id ? [t("mute.window"), link(`/ui/mutes?highlight=${enc(d.mute_id)}`, held ? t("mute.held_by") : t("mute.was_held"))] : null,
            d.error ? [t("history.error"), h("span", { class: "bad-text" }, d.error)] : null,
          ],
          "delivery-facts",
        ),
      ),
      d.members && d.members.length
        ? section(
            t("history.members", { n: d.members.length }),
            table(
              [
                { label: t("history.delivery"), cell: (m) => idLink(`/ui/history/${enc(m.id)}`, m.id) },
                { label: t("history.task"), cell: (m) => (m.task_id ? idLink(`/ui/tasks/${enc(m.task_id)}`, m.task_id) : "—") },
                { label: t("history.event"), cell: (m) => label("event", m.event_type) },
                { label: t("history.status"), cell: (m) => deliveryBadge(m) },
              ],
              d.members,
              { testid: "digest-members" },
            ),
          )
        : null,
      section(
        t("history.attempts_title", { n: d.attempt_log ? d.attempt_log.length : 0 }),
        d.attempt_log && d.attempt_log.length
          ? h("div", { class: "attempts", dataset: { testid: "attempts" } }, [...d.attempt_log].reverse().map(attemptCard))
          : h("p", { class: "empty" }, d.digest_id ? t("history.no_attempts_digest") : t("history.no_attempts")),
      ),
    );
  }

  mount(
    ctx.main,
    h(
      "div",
      { class: "page-header" },
      h("div", h("h1", t("history.delivery"), " ", h("span", { class: "mono title-id" }, id.slice(0, 8))), h("p", { class: "subtitle mono" }, id)),
      h("div", { class: "page-actions" }, link(`/ui/history${d.task_id ? `?task_id=${enc(d.task_id)}` : ""}`, t("history.back")), ...(can("write", d.project_id) ? [dropBtn, releaseBtn, resendBtn] : [])),
    ),
    msg,
    body,
  );
  draw();
  ctx.every(2000, async () => {
    if (d.status !== "pending") return;
    try {
      const fresh = await get(path, null, ctx.signal);
      if (!ctx.alive()) return;
      d = fresh;
      if (d.status !== "pending") clear(msg);
      draw();
    } catch (err) {
      if (ctx.alive() && err.name !== "AbortError") showError(msg, err);
    }
  });
}
