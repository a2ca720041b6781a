// A project's inbound webhooks: sources (GitHub, GitLab, Flux, Argo) with the URL to copy,
// creating one (its secret shown once), deleting one, and each source's recent deliveries.

import { RELEASE, del, get, post } from "../api.js";
import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { alertBox, badge, busy, button, confirmDialog, field, idLink, link, loading, section, showError, table, time } from "../ui.js";

const enc = encodeURIComponent;
const KINDS = ["github", "gitlab", "flux", "argo"];

function copyable(value, testid) {
  const input = h("input", { type: "text", readonly: true, value, class: "mono copy-input", dataset: { testid } });
  const copy = button(t("inbound.copy"), {
    onClick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(value);
        copy.textContent = t("inbound.copied");
      } catch {
        document.execCommand("copy"); // http pages without the clipboard API
      }
    },
  });
  return h("div", { class: "copy-row" }, input, copy);
}

export async function inboundView(ctx) {
  const id = ctx.params.project;
  const project = await get(`${RELEASE}/projects/${enc(id)}`, null, ctx.signal);
  if (!ctx.alive()) return;
  document.title = `${t("inbound.title")} · ${project.name} · Herald`;
  const base = `${RELEASE}/projects/${enc(id)}/inbound-sources`;
  const msg = h("div", { class: "msg" });
  const listSlot = h("div", loading());
  const logSlot = h("div");
  const created = h("div");

  async function showDeliveries(source) {
    mount(logSlot, loading());
    const page = await get(`${base}/${enc(source.id)}/deliveries`, { limit: 50 }, ctx.signal);
    if (!ctx.alive()) return;
    mount(
      logSlot,
      h("h3", t("inbound.deliveries_of", { name: source.name })),
      table(
        [
          { label: t("inbound.received"), cell: (d) => time(d.received_at) },
          { label: t("inbound.verdict"), cell: (d) => badge("verdict", d.verdict) },
          { label: "HTTP", cell: (d) => String(d.status_code) },
          { label: t("inbound.platform_event"), cell: (d) => d.platform_event || "—" },
          { label: t("inbound.event"), cell: (d) => d.event_type || "—" },
          { label: t("inbound.run_id"), cell: (d) => (d.run_id ? h("code", { class: "mono" }, d.run_id) : "—") },
          { label: t("task.id"), cell: (d) => (d.task_id ? idLink(`/ui/tasks/${enc(d.task_id)}`, d.task_id) : "—") },
          { label: t("inbound.reason"), class: "wrap", cell: (d) => d.reason || "—" },
        ],
        page.items,
        { empty: t("inbound.no_deliveries"), testid: "inbound-deliveries" },
      ),
    );
  }

  async function reload() {
    const sources = await get(base, null, ctx.signal);
    if (!ctx.alive()) return;
    mount(
      listSlot,
      table(
        [
          { label: t("project.name"), cell: (s) => h("strong", s.name) },
          { label: t("inbound.kind"), cell: (s) => t(`inbound.kind.${s.kind}`) },
          { label: t("inbound.url"), class: "wrap", cell: (s) => copyable(s.url, "inbound-url") },
          { label: t("task.created"), cell: (s) => time(s.created_at) },
          {
            label: t("common.actions"),
            cell: (s) =>
              h(
                "div",
                { class: "row-actions" },
                button(t("inbound.deliveries"), { testid: "inbound-show-deliveries", onClick: () => showDeliveries(s).catch((err) => showError(logSlot, err)) }),
                button(t("common.delete"), {
                  kind: "danger",
                  onClick: async () => {
                    if (!(await confirmDialog(t("inbound.delete_confirm", { name: s.name }), { danger: true }))) return;
                    await del(`${base}/${enc(s.id)}`).catch((err) => showError(msg, err));
                    mount(logSlot);
                    await reload();
                  },
                }),
              ),
          },
        ],
        sources,
        { empty: t("inbound.none"), testid: "inbound-sources", caption: t("inbound.title") },
      ),
    );
  }

  const fName = field(t("project.name"), { required: true, maxlength: 100, dataset: { key: "name", testid: "inbound-name" } });
  const fKind = field(t("inbound.kind"), { type: "select", options: KINDS.map((k) => [k, t(`inbound.kind.${k}`)]), dataset: { testid: "inbound-kind" } });
  const createBtn = h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "inbound-create" } }, t("inbound.create"));
  const form = h(
    "form",
    {
      class: "card form",
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          await busy(createBtn, msg, async () => {
            const source = await post(base, { name: fName.input.value.trim(), kind: fKind.input.value });
            fName.input.value = "";
            mount(
              created,
              alertBox(
                "ok",
                h("p", h("strong", t("inbound.secret_once"))),
                h("p", t("inbound.url")),
                copyable(source.url, "inbound-new-url"),
                h("p", t("inbound.secret")),
                copyable(source.secret, "inbound-secret"),
              ),
            );
            await reload();
          });
        },
      },
    },
    h("h2", t("inbound.new")),
    h("p", { class: "help" }, t("inbound.help")),
    h("div", { class: "grid-2" }, fName.wrap, fKind.wrap),
    msg,
    h("div", { class: "form-actions" }, createBtn),
  );

  mount(
    ctx.main,
    h(
      "div",
      { class: "page-header" },
      h("div", h("h1", t("inbound.title")), h("p", { class: "subtitle" }, link(`/ui/projects/${enc(id)}`, project.name))),
    ),
    created,
    section(null, listSlot),
    section(null, logSlot),
    form,
  );
  await reload().catch((err) => showError(listSlot, err));
}
