// Statistics: success rate, volume and latency per channel and event as inline SVG bar
// charts (no chart library), plus the delivery targets (circuit, pending, recent sends).

import { RELEASE, get, projectMap } from "../api.js";
import { h, mount, s } from "../dom.js";
import { formatMs, formatNumber, formatPercent, label, t } from "../i18n.js";
import { badge, field, guide, loading, section, showError, table, time, toIso, toLocalInput } from "../ui.js";

const BAR_W = 440;
const VALUE_W = 150;
const ROW_H = 28;

/**
 * A horizontal bar chart. rows: [{label, text, segments: [{value, cls, name, display}]}];
 * segments are stacked, or drawn one under the other when `lanes` is set (grouped bars).
 * Bars are scaled to `max`; each carries a <title> (tooltip), the chart an aria-label.
 */
function barChart({ rows, max, title, testid, legend, lanes = false }) {
  // The label column fits the longest label (CJK glyphs are about twice as wide), so none is cut.
  const LABEL_W = Math.min(420, Math.max(120, ...rows.map((r) => textWidth(r.label) + 16)));
  const height = rows.length * ROW_H + 8;
  const width = LABEL_W + BAR_W + VALUE_W;
  const scale = max > 0 ? BAR_W / max : 0;
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title, "data-testid": testid, preserveAspectRatio: "xMinYMin meet" },
    s("title", {}, title),
    rows.map((row, i) => {
      const y = i * ROW_H + 4;
      const top = y + 4;
      const full = ROW_H - 10;
      const laneH = lanes ? full / row.segments.length : full;
      let x = LABEL_W;
      const bars = row.segments.map((seg, k) => {
        const w = Math.max(seg.value > 0 ? 1.5 : 0, seg.value * scale);
        const barX = lanes ? LABEL_W : x;
        const barY = lanes ? top + k * laneH : top;
        if (!lanes) x += w;
        return s(
          "rect",
          { x: barX.toFixed(1), y: barY.toFixed(1), width: w.toFixed(1), height: (lanes ? laneH - 1 : laneH).toFixed(1), rx: 2, class: `bar ${seg.cls}`, "data-value": seg.value },
          s("title", {}, `${row.label} — ${seg.name}: ${seg.display ?? seg.value}`),
        );
      });
      return s(
        "g",
        { class: "chart-row" },
        s("rect", { x: LABEL_W, y: top, width: BAR_W, height: full, class: "track", rx: 2 }),
        s("text", { x: LABEL_W - 8, y: y + ROW_H / 2 + 4, "text-anchor": "end", class: "chart-label" }, row.label),
        bars,
        s("text", { x: LABEL_W + BAR_W + 8, y: y + ROW_H / 2 + 4, class: "chart-value" }, row.text),
      );
    }),
  );
  return h(
    "figure",
    { class: "chart-figure" },
    h("figcaption", title),
    svg,
    legend ? h("ul", { class: "legend" }, legend.map(([cls, text]) => h("li", h("span", { class: `swatch ${cls}` }), text))) : null,
  );
}

/** Rough width in px of `text` at the charts' 12 px font. */
function textWidth(text) {
  let w = 0;
  for (const ch of String(text)) w += ch.codePointAt(0) > 0x2e80 ? 12.5 : 7;
  return w;
}

/** Success-rate colour: notifications should nearly always arrive, so amber below 99 %, red below 95 %. */
export function rateTone(rate) {
  if (rate === null || rate === undefined) return "bar-muted";
  return rate >= 0.99 ? "bar-ok" : rate >= 0.95 ? "bar-warn" : "bar-bad";
}

function rowLabel(r) {
  return `${label("channel", r.channel_type)} · ${label("event", r.event_type)}`;
}

function charts(stats) {
  const rateChart = barChart({
    title: t("stats.success_rate"),
    testid: "chart-success",
    max: 1,
    rows: stats.map((r) => ({
      label: rowLabel(r),
      text: formatPercent(r.success_rate),
      segments: [
        {
          value: r.success_rate ?? 0,
          cls: rateTone(r.success_rate),
          name: t("stats.success_rate"),
          display: formatPercent(r.success_rate),
        },
      ],
    })),
  });
  const volume = (r) => r.success + r.failed + r.pending + (r.muted ?? 0) + (r.dropped ?? 0);
  const maxVolume = Math.max(0, ...stats.map(volume));
  const volumeChart = barChart({
    title: t("stats.volume"),
    testid: "chart-volume",
    max: maxVolume,
    legend: [["bar-ok", t("dstatus.success")], ["bar-bad", t("dstatus.failed")], ["bar-muted", t("dstatus.pending")], ["bar-warn", t("dstatus.muted")], ["bar-info2", t("dstatus.dropped")]],
    rows: stats.map((r) => ({
      label: rowLabel(r),
      text: formatNumber(volume(r)),
      segments: [
        { value: r.success, cls: "bar-ok", name: t("dstatus.success") },
        { value: r.failed, cls: "bar-bad", name: t("dstatus.failed") },
        { value: r.pending, cls: "bar-muted", name: t("dstatus.pending") },
        { value: r.muted ?? 0, cls: "bar-warn", name: t("dstatus.muted") },
        { value: r.dropped ?? 0, cls: "bar-info2", name: t("dstatus.dropped") },
      ],
    })),
  });
  const maxLatency = Math.max(0, ...stats.map((r) => r.latency_p95_ms || 0));
  const latencyChart = barChart({
    title: t("stats.latency"),
    testid: "chart-latency",
    max: maxLatency,
    lanes: true,
    legend: [["bar-info", "p50"], ["bar-info2", "p95"]],
    rows: stats.map((r) => ({
      label: rowLabel(r),
      text: `${formatMs(r.latency_p50_ms)} / ${formatMs(r.latency_p95_ms)}`,
      segments: [
        { value: r.latency_p50_ms || 0, cls: "bar-info", name: "p50", display: formatMs(r.latency_p50_ms) },
        { value: r.latency_p95_ms || 0, cls: "bar-info2", name: "p95", display: formatMs(r.latency_p95_ms) },
      ],
    })),
  });
  return h("div", { class: "charts" }, rateChart, volumeChart, latencyChart);
}

function statsTable(stats) {
  return table(
    [
      { label: t("history.channel"), cell: (r) => label("channel", r.channel_type) },
      { label: t("history.event"), cell: (r) => label("event", r.event_type) },
      { label: t("dstatus.success"), class: "num", cell: (r) => formatNumber(r.success) },
      { label: t("dstatus.failed"), class: "num", cell: (r) => formatNumber(r.failed) },
      { label: t("dstatus.pending"), class: "num", cell: (r) => formatNumber(r.pending) },
      { label: t("dstatus.muted"), class: "num", cell: (r) => formatNumber(r.muted ?? 0) },
      { label: t("dstatus.dropped"), class: "num", cell: (r) => formatNumber(r.dropped ?? 0) },
      { label: t("stats.success_rate"), class: "num", cell: (r) => formatPercent(r.success_rate) },
      { label: "p50", class: "num", cell: (r) => formatMs(r.latency_p50_ms) },
      { label: "p95", class: "num", cell: (r) => formatMs(r.latency_p95_ms) },
      { label: t("stats.measured"), class: "num", cell: (r) => formatNumber(r.attempts_measured) },
    ],
    stats,
    { testid: "stats-table", caption: t("stats.table") },
  );
}

function targetsTable(targets) {
  return table(
    [
      { label: t("history.channel"), cell: (r) => label("channel", r.channel_type) },
      { label: t("targets.description"), class: "wrap", cell: (r) => h("code", { class: "wrap-anywhere" }, r.description) },
      { label: t("targets.circuit"), cell: (r) => badge("circuit", r.circuit) },
      { label: t("targets.failures"), class: "num", cell: (r) => String(r.consecutive_failures) },
      { label: t("targets.pending"), class: "num", cell: (r) => String(r.pending) },
      { label: t("targets.sends"), class: "num", cell: (r) => String(r.sends_last_minute) },
      { label: t("targets.penalty"), cell: (r) => (r.penalty_until ? time(r.penalty_until) : "—") },
      { label: t("targets.probe"), cell: (r) => (r.probe_at ? time(r.probe_at) : "—") },
      { label: t("targets.last_error"), class: "wrap", cell: (r) => r.last_error || h("span", { class: "muted" }, "—") },
    ],
    targets,
    { testid: "targets-table", empty: t("targets.none"), caption: t("targets.title") },
  );
}

export async function statsView(ctx) {
  document.title = `${t("nav.stats")} · Herald`;
  const projectsById = await projectMap();
  if (!ctx.alive()) return;
  const q = ctx.query;
  const fProject = field(t("filter.project"), { type: "select", options: [["", t("common.all")], ...[...projectsById.values()].map((p) => [p.id, p.name])], value: q.get("project_id") || "" });
  const fKind = field(t("filter.kind"), {
    type: "select",
    // Test sends are left out unless asked for: they are not what releases caused.
    options: [["notification", t("stats.kind_notification")], ["all", t("stats.kind_all")], ["event", t("stats.kind_event")], ["test", t("kind.test")]],
    value: q.get("kind") || "notification",
    dataset: { testid: "stats-kind" },
  });
  const fSince = field(t("filter.since"), { type: "datetime-local", value: toLocalInput(q.get("since")) });
  const fUntil = field(t("filter.until"), { type: "datetime-local", value: toLocalInput(q.get("until")) });
  const msg = h("div", { class: "msg" });
  const chartsSlot = h("div", { dataset: { testid: "charts" } }, loading());
  const tableSlot = h("div");
  const targetsSlot = h("div", loading());

  async function load() {
    const kind = fKind.input.value;
    const query = { project_id: fProject.input.value, kind: kind === "all" ? "" : kind, since: toIso(fSince.input.value), until: toIso(fUntil.input.value) };
    ctx.setQuery({ ...query, kind: kind === "notification" ? "" : kind });
    try {
      const [stats, targets] = await Promise.all([
        get(`${RELEASE}/callbacks/stats`, query, ctx.signal),
        get(`${RELEASE}/callbacks/targets`, null, ctx.signal),
      ]);
      if (!ctx.alive()) return;
      showError(msg, null);
      if (stats.length) {
        mount(chartsSlot, charts(stats));
        mount(tableSlot, h("details", h("summary", t("stats.table")), statsTable(stats)));
      } else {
        mount(chartsSlot, h("p", { class: "empty" }, t("stats.none"), " ", guide(t("guide.history"), "/ui/callbacks", t("nav.callbacks"))));
        mount(tableSlot);
      }
      mount(targetsSlot, targetsTable(targets));
    } catch (err) {
      if (ctx.alive() && err.name !== "AbortError") showError(msg, err);
    }
  }
  for (const f of [fProject, fKind, fSince, fUntil]) f.input.addEventListener("change", load);

  mount(
    ctx.main,
    h("div", { class: "page-header" }, h("h1", t("nav.stats"))),
    h("form", { class: "filters", on: { submit: (e) => e.preventDefault() } }, fProject.wrap, fKind.wrap, fSince.wrap, fUntil.wrap),
    msg,
    section(t("stats.title"), h("p", { class: "help" }, t("stats.help")), chartsSlot, tableSlot),
    section(t("targets.title"), h("p", { class: "help" }, t("targets.help")), targetsSlot),
  );
  await load();
  ctx.every(10000, load);
}
