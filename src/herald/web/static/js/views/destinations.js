// Destinations: one robot, app, webhook or mailbox defined once, for a project or for the whole
// organisation, and used by any number of callback configs. The list shows who uses each one;
// the editor its health (circuit, rate-limit use, last outcome) and the form.

import { RELEASE, channelTypes, del, get, getAll, post, projectMap, put } from "../api.js";
import { h, mount } from "../dom.js";
import { label, t } from "../i18n.js";
import { alertBox, badge, busy, button, clearInvalid, confirmDialog, facts, field, link, loading, markInvalid, pageHeader, section, showError, table, time } from "../ui.js";
import { channelCard } from "./channel_form.js";

const enc = encodeURIComponent;

function usedBy(d, projectsById) {
  if (!d.used_by.length) return h("span", { class: "muted" }, t("dest.unused"));
  return h(
    "ul",
    { class: "plain-list" },
    d.used_by.map((u) =>
      h("li", link(`/ui/callbacks/${enc(u.config_id)}`, u.config_name), " ", h("span", { class: "muted" }, u.project_id ? projectsById.get(u.project_id)?.name || u.project_id : t("dest.org_rule"))),
    ),
  );
}

export function destinationsTable(list, projectsById) {
  return table(
    [
      { label: t("dest.name"), cell: (d) => link(`/ui/destinations/${enc(d.id)}`, d.name) },
      { label: t("cfg.channel_type"), cell: (d) => label("channel", d.type) },
      { label: t("dest.scope"), cell: (d) => (d.project_id ? projectsById.get(d.project_id)?.name || d.project_id : t("dest.org")) },
      { label: t("dest.used_by"), class: "wrap", cell: (d) => usedBy(d, projectsById) },
      { label: t("cfg.updated"), cell: (d) => time(d.updated_at) },
    ],
    list,
    { empty: t("dest.none"), testid: "destinations-table", caption: t("nav.destinations") },
  );
}

function destinationForm(ctx, { saved, projectId, types, onSaved }) {
  const msg = h("div", { class: "msg", "aria-live": "polite", dataset: { testid: "destination-msg" } });
  const fName = field(t("dest.name"), { value: saved ? saved.name : "", required: true, maxlength: 100, dataset: { key: "name", testid: "destination-name" } });
  const initial = saved || { type: [...types.keys()][0], config: null };
  const card = channelCard(initial, { onRemove: () => {}, onChange: () => card.setLegend(0), types, bare: true });
  card.setLegend(0);
  const saveBtn = h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "destination-save" } }, saved ? t("common.save") : t("dest.create"));
  const form = h("form", { class: "card form", novalidate: true, dataset: { testid: "destination-form" } });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearInvalid(form);
    await busy(saveBtn, msg, async () => {
      let body;
      try {
        body = { name: fName.input.value.trim(), ...card.value() };
      } catch (err) {
        if (err && err.key) {
          const control = form.querySelector(`[data-key="${CSS.escape(err.key)}"]`);
          if (control) markInvalid(control, err.message);
        }
        throw err;
      }
      try {
        const result = saved
          ? await put(`${RELEASE}/destinations/${enc(saved.id)}`, body)
          : await post(projectId ? `${RELEASE}/projects/${enc(projectId)}/destinations` : `${RELEASE}/destinations`, body);
        await onSaved(result);
      } catch (err) {
        for (const { field: name, message } of err.fieldErrors ? err.fieldErrors() : []) {
          const control = form.querySelector(`[data-key="${CSS.escape(name)}"]`) || form.querySelector(`[data-key="${CSS.escape(name.split(".").slice(0, 2).join("."))}"]`);
          if (control) markInvalid(control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea") || control, message);
        }
        throw err;
      }
    });
  });
  form.append(h("h2", saved ? t("dest.edit_title", { name: saved.name }) : t("dest.new")), h("p", { class: "help" }, t("dest.secret_help")), fName.wrap, card.card, msg, h("div", { class: "form-actions" }, saveBtn));
  return form;
}

/** /ui/destinations (the organisation's) and /ui/projects/:project/destinations. */
export async function destinationsView(ctx) {
  const projectId = ctx.params.project || null;
  const projectsById = await projectMap().catch(() => new Map());
  const types = new Map((await channelTypes()).map((info) => [info.type, info]));
  if (!ctx.alive()) return;
  const project = projectId ? projectsById.get(projectId) : null;
  const title = project ? t("dest.title_project", { name: project.name }) : t("dest.title_org");
  document.title = `${title} · Herald`;
  const listSlot = h("div", loading());
  async function reload() {
    const list = await getAll(projectId ? `${RELEASE}/projects/${enc(projectId)}/destinations` : `${RELEASE}/destinations`);
    if (!ctx.alive()) return;
    mount(listSlot, destinationsTable(list, projectsById));
  }
  const form = destinationForm(ctx, { saved: null, projectId, types, onSaved: (d) => ctx.navigate(`/ui/destinations/${enc(d.id)}`) });
  const intro = h("p", { class: "subtitle" }, project ? t("dest.intro_project") : t("dest.intro_org"), project ? [" ", link(`/ui/projects/${enc(projectId)}`, project.name)] : null);
  if (!projectId && ctx.isAdmin() === false) {
    mount(ctx.main, pageHeader(title), intro, alertBox("warn", t("dest.admin_only")));
    return;
  }
  mount(ctx.main, pageHeader(title), intro, section(null, listSlot), form);
  await reload().catch((err) => showError(listSlot, err));
}

function healthFacts(health) {
  const limits = health.rate_limits.map((l) => t("dest.limit_use", { used: l.used, count: l.count, per: l.per_seconds })).join(t("common.list_sep"));
  return facts(
    [
      [t("dest.circuit"), badge("circuit", health.circuit, "destination-circuit")],
      [t("dest.failures"), String(health.consecutive_failures)],
      [t("dest.rate_use"), h("span", { dataset: { testid: "destination-rate" } }, limits || "—")],
      [t("dest.pending"), String(health.pending)],
      [t("dest.last_outcome"), health.last_outcome ? h("span", badge("outcome", health.last_outcome), " ", health.last_code ? h("code", health.last_code) : null, " ", time(health.last_at)) : "—"],
      [t("dest.penalty"), health.penalty_until ? time(health.penalty_until) : "—"],
      [t("dest.last_error"), health.last_error || "—"],
    ],
    "destination-health",
  );
}

/** /ui/destinations/:id: health, who uses it, the form, delete. */
export async function destinationView(ctx) {
  const saved = await get(`${RELEASE}/destinations/${enc(ctx.params.id)}`, null, ctx.signal);
  const projectsById = await projectMap().catch(() => new Map());
  const types = new Map((await channelTypes()).map((info) => [info.type, info]));
  if (!ctx.alive()) return;
  document.title = `${saved.name} · Herald`;
  const msg = h("div", { class: "msg" });
  const back = saved.project_id ? `/ui/projects/${enc(saved.project_id)}/destinations` : "/ui/destinations";
  const form = destinationForm(ctx, { saved, projectId: saved.project_id, types, onSaved: () => ctx.rerender() });
  const deleteBtn = button(t("common.delete"), {
    kind: "danger",
    testid: "destination-delete",
    onClick: async (ev) => {
      const btn = ev.currentTarget;
      if (!(await confirmDialog(t("dest.delete_confirm", { name: saved.name }), { danger: true, confirmLabel: t("common.delete") }))) return;
      await busy(btn, msg, async () => {
        await del(`${RELEASE}/destinations/${enc(saved.id)}`);
        ctx.navigate(back);
      });
    },
  });
  const scope = saved.project_id ? projectsById.get(saved.project_id)?.name || saved.project_id : t("dest.org");
  mount(
    ctx.main,
    h("div", { class: "page-header" }, h("div", h("h1", saved.name), h("p", { class: "subtitle" }, label("channel", saved.type), " · ", t("dest.scope"), ": ", scope, " · ", link(back, t("nav.destinations")))), h("div", { class: "page-actions" }, deleteBtn)),
    msg,
    saved.warnings.length ? alertBox("warn", h("ul", saved.warnings.map((w) => h("li", w)))) : null,
    section(t("dest.health"), healthFacts(saved.health)),
    section(t("dest.used_by"), usedBy(saved, projectsById)),
    form,
  );
}
