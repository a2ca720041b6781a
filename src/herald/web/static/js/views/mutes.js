// Mute windows: create one for a project or a callback config (duration presets or an end
// time), list active or ended windows with how many notifications each still holds, and
// decide for what they hold: release (send now, in each task's order) or drop (never send).
// A window that ends keeps what it held until someone decides.

import { RELEASE, del, get, getAll, post, projectMap } from "../api.js";
import { h, mount } from "../dom.js";
import { label, t } from "../i18n.js";
import { badge, busy, button, confirmDialog, field, link, loading, pageHeader, section, showError, table, time, toIso } from "../ui.js";

const enc = encodeURIComponent;
const PRESETS = ["30m", "1h", "2h", "4h", "1d"];
const MUTES = "/api/v1/mutes";

export async function mutesView(ctx) {
  document.title = `${t("nav.mutes")} · Herald`;
  const [projectsById, configs] = await Promise.all([projectMap(), getAll(`${RELEASE}/callbacks`).catch(() => [])]);
  if (!ctx.alive()) return;
  const configsById = new Map(configs.map((c) => [c.id, c]));
  const highlight = ctx.query.get("highlight") || "";
  let show = ctx.query.get("show") || (highlight ? "all" : "active");
  const msg = h("div", { class: "msg", "aria-live": "polite" });
  const listSlot = h("div", { dataset: { testid: "mutes-list" } }, loading());

  function scopeName(m) {
    if (m.scope === "config") {
      const config = configsById.get(m.scope_id);
      const project = projectsById.get(m.project_id)?.name || "?";
      return h("span", label("mscope", "config"), ": ", config ? link(`/ui/callbacks/${enc(config.id)}`, `${config.name} (${project})`) : h("code", m.scope_id.slice(0, 8)));
    }
    const project = projectsById.get(m.scope_id);
    return h("span", label("mscope", "project"), ": ", project ? link(`/ui/projects/${enc(project.id)}`, project.name) : h("code", m.scope_id.slice(0, 8)));
  }

  function heldCell(m) {
    if (!m.held) return h("span", { class: "muted" }, "0");
    const query = m.scope === "config" ? `config_id=${enc(m.scope_id)}` : `project_id=${enc(m.scope_id)}`;
    return link(`/ui/history?status=muted&${query}`, h("strong", { dataset: { testid: "mute-held" } }, String(m.held)));
  }

  function actions(m) {
    const decide = (action) => async (ev) => {
      const question = action === "drop" ? "mute.drop_all_confirm" : "mute.release_all_confirm";
      if (!(await confirmDialog(t(question, { n: m.held }), { confirmLabel: t(`mute.${action}_all`), danger: action === "drop" }))) return;
      await busy(ev.target, msg, async () => {
        const done = await post(`${MUTES}/${enc(m.id)}/${action}`);
        await reload();
        mount(msg, h("div", { class: "alert alert-ok", role: "status" }, t(action === "drop" ? "mute.dropped_n" : "mute.released_n", { n: done.delivery_ids.length })));
      });
    };
    const end = async (ev) => {
      if (!(await confirmDialog(t("mute.end_confirm"), { confirmLabel: t("mute.end") }))) return;
      await busy(ev.target, msg, async () => {
        await del(`${MUTES}/${enc(m.id)}`);
        await reload();
      });
    };
    return h(
      "div",
      { class: "row-actions" },
      m.held ? button(t("mute.release_all"), { kind: "primary", testid: "mute-release", onClick: decide("release") }) : null,
      m.held ? button(t("mute.drop_all"), { kind: "danger", testid: "mute-drop", onClick: decide("drop") }) : null,
      m.state !== "ended" ? button(t("mute.end"), { testid: "mute-end", onClick: end }) : null,
    );
  }

  async function reload() {
    const query = show === "active" ? { active: true } : show === "ended" ? { active: false } : {};
    ctx.setQuery(show === "active" ? {} : { show });
    const list = await get(MUTES, query, ctx.signal);
    if (!ctx.alive()) return;
    const heldTotal = list.reduce((n, m) => n + m.held, 0);
    mount(
      listSlot,
      heldTotal ? h("div", { class: "alert alert-warn", role: "status", dataset: { testid: "mutes-held-total" } }, t("mute.held_total", { n: heldTotal })) : null,
      table(
        [
          { label: t("mute.state"), cell: (m) => badge("mstate", m.state) },
          { label: t("mute.scope"), cell: scopeName },
          { label: t("mute.reason"), class: "wrap", cell: (m) => m.reason },
          { label: t("mute.by"), cell: (m) => (m.ended_by ? h("span", m.created_by, h("br"), h("span", { class: "muted" }, t("mute.ended_by", { who: m.ended_by }))) : m.created_by) },
          { label: t("mute.starts"), cell: (m) => time(m.starts_at) },
          { label: t("mute.ends"), cell: (m) => time(m.ends_at) },
          { label: t("mute.held"), class: "num", cell: heldCell },
          { label: t("mute.decided"), class: "num", cell: (m) => `${m.released} / ${m.dropped}` },
          { label: t("common.actions"), cell: actions },
        ],
        list,
        { empty: t(show === "active" ? "mute.none_active" : "mute.none"), testid: "mutes-table", caption: t("nav.mutes") },
      ),
    );
    const row = highlight && listSlot.querySelector(`tr[data-id="${CSS.escape(highlight)}"]`);
    if (row) row.classList.add("row-highlight");
  }

  const fShow = field(t("mute.show"), {
    type: "select",
    options: [["active", t("mute.show_active")], ["ended", t("mute.show_ended")], ["all", t("common.all")]],
    value: show,
    dataset: { testid: "mutes-show" },
  });
  fShow.input.addEventListener("change", async () => {
    show = fShow.input.value;
    try {
      await reload();
    } catch (err) {
      if (ctx.alive() && err.name !== "AbortError") showError(msg, err);
    }
  });

  mount(
    ctx.main,
    pageHeader(t("nav.mutes")),
    h("p", { class: "help page-intro" }, t("mute.intro")),
    createForm(projectsById, configs, msg, reload),
    section(t("mute.windows"), h("div", { class: "filters" }, fShow.wrap), msg, listSlot),
  );
  await reload();
}

function createForm(projectsById, configs, msg, reload) {
  const projectOptions = [...projectsById.values()].map((p) => [p.id, p.name]);
  const configOptions = configs.map((c) => [c.id, `${c.name} (${projectsById.get(c.project_id)?.name || "?"})`]);
  const fKind = field(t("mute.scope"), { type: "select", options: [["config", label("mscope", "config")], ["project", label("mscope", "project")]], value: "config", dataset: { testid: "mute-kind" } });
  const fTarget = field(t("mute.target"), { type: "select", options: configOptions, required: true, dataset: { testid: "mute-target", key: "scope" } });
  fKind.input.addEventListener("change", () => {
    const options = fKind.input.value === "project" ? projectOptions : configOptions;
    mount(fTarget.input, options.map(([value, text]) => h("option", { value }, text)));
  });
  let duration = "2h";
  const presetButtons = [...PRESETS, "custom"].map((p) =>
    button(p === "custom" ? t("mute.until") : p, {
      class: ["btn", "btn-chip"],
      "aria-pressed": String(p === duration),
      testid: `mute-preset-${p}`,
      onClick: () => {
        duration = p;
        for (const b of presetButtons) b.setAttribute("aria-pressed", String(b.dataset.testid === `mute-preset-${p}`));
        fEnds.wrap.hidden = p !== "custom";
      },
    }),
  );
  const fEnds = field(t("mute.ends"), { type: "datetime-local", dataset: { testid: "mute-ends", key: "ends_at" } });
  fEnds.wrap.hidden = true;
  const fStarts = field(t("mute.starts"), { type: "datetime-local", help: t("mute.starts_help"), dataset: { testid: "mute-starts", key: "starts_at" } });
  const fReason = field(t("mute.reason"), { required: true, maxlength: 500, placeholder: t("mute.reason_placeholder"), dataset: { testid: "mute-reason", key: "reason" } });
  const submit = h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "mute-create" } }, t("mute.create"));
  const form = h(
    "form",
    {
      class: "card form",
      dataset: { testid: "mute-form" },
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          await busy(submit, msg, async () => {
            const scope = { [fKind.input.value === "project" ? "project_id" : "config_id"]: fTarget.input.value };
            const body = { scope, reason: fReason.input.value.trim() };
            if (fStarts.input.value) body.starts_at = toIso(fStarts.input.value);
            if (duration === "custom") body.ends_at = toIso(fEnds.input.value) || null;
            else body.duration = duration;
            await post(MUTES, body);
            fReason.input.value = "";
            await reload();
            mount(msg, h("div", { class: "alert alert-ok", role: "status" }, t("mute.created")));
          });
        },
      },
    },
    h("h2", t("mute.new")),
    h("div", { class: "grid-2" }, fKind.wrap, fTarget.wrap),
    h("fieldset", { class: "checks" }, h("legend", t("mute.duration")), h("div", { class: "check-row presets" }, presetButtons)),
    h("div", { class: "grid-2" }, fEnds.wrap, fStarts.wrap),
    fReason.wrap,
    h("div", { class: "form-actions" }, submit),
  );
  return form;
}
