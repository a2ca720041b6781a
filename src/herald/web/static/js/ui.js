// Shared building blocks: badges, alerts, tables, form fields, dialogs, error display.

import { ApiError } from "./api.js";
import { clear, h, mount, uniqueId } from "./dom.js";
import { formatRelative, formatTime, label, t } from "./i18n.js";

const TONES = {
  success: "ok",
  delivered: "ok",
  partial: "ok",
  closed: "ok",
  running: "info",
  pending: "muted",
  awaiting_promotion: "warn",
  half_open: "warn",
  rate_limited: "warn",
  retryable: "warn",
  failed: "bad",
  permanent: "bad",
  blocked: "bad",
  open: "bad",
  stopped: "muted",
  on: "ok",
  off: "muted",
  cancelled: "muted",
  skipped: "muted",
  accepted: "ok",
  duplicate: "muted",
  ignored: "muted",
  refused: "bad",
  muted: "warn", // held by a mute window: waits for a person
  dropped: "muted",
  active: "warn",
  scheduled: "info",
  ended: "muted",
};

/** A coloured pill with the translated label of `value` in `group`. */
export function badge(group, value, testid) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "—");
  return h(
    "span",
    { class: ["badge", `tone-${TONES[value] || "neutral"}`], dataset: { value, testid } },
    label(group, value),
  );
}

/** A delivery's status; a failure whose last outcome was retryable says the retries ran out. */
export function deliveryBadge(d, testid) {
  const node = badge("dstatus", d.status, testid);
  if (d.status === "failed" && (d.last_outcome === "retryable" || d.last_outcome === "rate_limited")) {
    node.textContent = label("dstatus", "failed_exhausted");
    node.classList.add("badge-wrap"); // long enough to wrap in a narrow table column
  }
  return node;
}

export function alertBox(kind, ...content) {
  return h("div", { class: ["alert", `alert-${kind}`], role: kind === "error" ? "alert" : "status" }, ...content);
}

/** The person-facing text for an API failure; 403 and 401 get their own wording. */
export function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) return t("error.forbidden", { message: err.message });
    if (err.status === 401) return t("token.invalid_short", { message: err.message });
    if (err.status === 0 && err.code === "network") return t("error.network", { message: err.message });
    return err.message;
  }
  return String((err && err.message) || err);
}

export function errorBox(err) {
  const box = alertBox("error", errorText(err));
  box.dataset.testid = "error";
  if (err instanceof ApiError) box.dataset.status = String(err.status);
  return box;
}

/** Show `err` (or clear when null) in the message slot `slot`. */
export function showError(slot, err) {
  if (!slot) return;
  if (!err) clear(slot);
  else mount(slot, errorBox(err));
}

export function showMessage(slot, kind, text) {
  mount(slot, alertBox(kind, text));
}

export function loading() {
  return h("p", { class: "loading", role: "status" }, t("common.loading"));
}

/** A time shown relative to now ("3 min ago"), the absolute time in its title. */
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: formatTime(iso) }, formatRelative(iso));
}

export function shortId(id) {
  if (!id) return "—";
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

export function link(href, ...children) {
  return h("a", { href, "data-link": true }, ...children);
}

export function idLink(href, id) {
  return h("a", { href, "data-link": true, class: "mono", title: id }, shortId(id));
}

/** An empty state that tells a new user what to do next: `text`, then a link to where. */
export function guide(text, href, linkText) {
  return [text, " ", h("a", { href, "data-link": true }, linkText)];
}

/** A table: columns = [{label, cell: (row) => node|string, class}]. */
export function table(columns, rows, { empty, testid, caption } = {}) {
  if (!rows.length) {
    return h("p", { class: "empty", dataset: { testid: testid ? `${testid}-empty` : undefined } }, empty || t("common.empty"));
  }
  return h(
    "div",
    // Focusable, so a keyboard can scroll a table wider than a phone (axe: scrollable-region-focusable).
    { class: "table-wrap", tabindex: "0", role: caption ? "region" : undefined, "aria-label": caption || undefined },
    h(
      "table",
      { class: "table", dataset: { testid } },
      caption ? h("caption", { class: "sr-only" }, caption) : null,
      h("thead", h("tr", columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h(
        "tbody",
        rows.map((row) =>
          h(
            "tr",
            { dataset: { id: row.id } },
            columns.map((c) => h("td", { class: c.class }, c.cell(row))),
          ),
        ),
      ),
    ),
  );
}

/** Definition list of [label, value] pairs. */
export function facts(pairs, testid) {
  return h(
    "dl",
    { class: "facts", dataset: { testid } },
    pairs.filter(Boolean).map(([term, value]) => h("div", { class: "fact" }, h("dt", term), h("dd", value))),
  );
}

export function pageHeader(title, ...actions) {
  return h("div", { class: "page-header" }, h("h1", title), h("div", { class: "page-actions" }, ...actions));
}

export function section(title, ...content) {
  return h("section", { class: "card" }, title ? h("h2", title) : null, ...content);
}

// -- form fields ------------------------------------------------------------------------------

/** A labelled input: returns {wrap, input}. `opts.help` adds a hint linked by aria-describedby. */
export function field(labelText, opts = {}) {
  const id = opts.id || uniqueId("f");
  const { help, type = "text", options, rows, ...rest } = opts;
  let input;
  if (type === "select") {
    input = h(
      "select",
      { id, ...rest },
      (options || []).map(([value, text]) => h("option", { value, selected: String(rest.value ?? "") === String(value) }, text)),
    );
    if (rest.value !== undefined) input.value = rest.value;
  } else if (type === "textarea") {
    input = h("textarea", { id, rows: rows || 3, ...rest });
  } else if (type === "checkbox") {
    input = h("input", { id, type: "checkbox", ...rest });
  } else {
    input = h("input", { id, type, ...rest });
  }
  const helpNode = help ? h("p", { class: "help", id: `${id}-help` }, help) : null;
  if (helpNode) input.setAttribute("aria-describedby", `${id}-help`);
  const wrap =
    type === "checkbox"
      ? h("div", { class: "field field-check" }, input, h("label", { for: id }, labelText), helpNode)
      : h("div", { class: "field" }, h("label", { for: id }, labelText), input, helpNode);
  return { wrap, input };
}

/** A group of checkboxes: returns {wrap, values()}. */
export function checkboxGroup(legend, choices, selected, { name, testid } = {}) {
  const boxes = choices.map(([value, text]) => {
    const id = uniqueId("cb");
    const input = h("input", { id, type: "checkbox", value, name, checked: selected.includes(value) });
    return { input, node: h("span", { class: "check" }, input, h("label", { for: id }, text)) };
  });
  const wrap = h(
    "fieldset",
    { class: "checks", dataset: { testid } },
    h("legend", legend),
    h("div", { class: "check-row" }, boxes.map((b) => b.node)),
  );
  return { wrap, values: () => boxes.filter((b) => b.input.checked).map((b) => b.input.value) };
}

/** "Not valid JSON at line 2, column 5" for a JSON.parse failure of `text`. */
export function jsonError(text, err) {
  const m = /position (\d+)/.exec((err && err.message) || "");
  const pos = m ? Number(m[1]) : /end of JSON/.test((err && err.message) || "") ? text.length : null;
  if (pos === null) return t("cfg.json_error", { message: (err && err.message) || "" });
  const before = text.slice(0, pos);
  return t("cfg.json_error_at", { line: before.split("\n").length, column: pos - before.lastIndexOf("\n") });
}

/** Show the first invalid control of `root`: open its collapsed <details>, scroll, focus. */
export function focusFirstInvalid(root) {
  const first = root.querySelector("[aria-invalid]");
  if (!first) return null;
  for (let d = first.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
  first.focus();
  return first;
}

/** Mark a form control invalid with `message` under it; remembered in `errors` for clearing. */
export function markInvalid(control, message) {
  const wrap = control.closest(".field, fieldset, .channel-card") || control.parentElement;
  control.setAttribute("aria-invalid", "true");
  const id = uniqueId("err");
  const note = h("p", { class: "field-error", id, dataset: { testid: "field-error" } }, message);
  const describedBy = control.getAttribute("aria-describedby");
  control.setAttribute("aria-describedby", describedBy ? `${describedBy} ${id}` : id);
  if (wrap && wrap !== control) wrap.appendChild(note);
  else control.after(note);
}

export function clearInvalid(root) {
  for (const el of root.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    const ids = (el.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.startsWith("err-"));
    if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
    else el.removeAttribute("aria-describedby");
  }
  for (const el of root.querySelectorAll(".field-error")) el.remove();
}

// -- dialogs ----------------------------------------------------------------------------------

/**
 * A modal confirmation. Resolves to false when cancelled, else true, or the text entered
 * when `input` is given ({label, placeholder}).
 */
export function confirmDialog(message, { confirmLabel, danger = false, input = null, title } = {}) {
  const dialog = document.getElementById("dialog");
  return new Promise((resolve) => {
    let field_ = null;
    if (input) field_ = field(input.label, { placeholder: input.placeholder || "", maxlength: input.maxlength || 1000 });
    const ok = h(
      "button",
      { type: "submit", class: ["btn", danger ? "btn-danger" : "btn-primary"], dataset: { testid: "dialog-confirm" } },
      confirmLabel || t("common.confirm"),
    );
    const cancel = h("button", { type: "button", class: "btn", dataset: { testid: "dialog-cancel" } }, t("common.cancel"));
    const form = h(
      "form",
      { method: "dialog", class: "dialog-body" },
      h("h2", title || t("common.confirm_title")),
      h("p", message),
      field_ ? field_.wrap : null,
      h("div", { class: "dialog-actions" }, cancel, ok),
    );
    let settled = false;
    const finish = (value) => {
      if (settled) return;
      settled = true;
      if (dialog.open) dialog.close();
      resolve(value);
    };
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      finish(field_ ? field_.input.value.trim() || true : true);
    });
    cancel.addEventListener("click", () => finish(false));
    dialog.addEventListener("close", () => finish(false), { once: true });
    mount(dialog, form);
    dialog.showModal();
    // A destructive dialog starts on Cancel: Enter alone must not delete or stop anything.
    (field_ ? field_.input : danger ? cancel : ok).focus();
  });
}

/** Run `action` with `button` disabled and a busy label; errors go to `slot`. */
export async function busy(button, slot, action) {
  const old = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (slot) clear(slot);
  try {
    return await action();
  } catch (err) {
    if (slot) showError(slot, err);
    else throw err;
    return undefined;
  } finally {
    button.removeAttribute("aria-busy");
    button.disabled = old;
  }
}

export function button(text, opts = {}) {
  const { kind = "", onClick, testid, ...rest } = opts;
  return h(
    "button",
    { type: "button", class: ["btn", kind && `btn-${kind}`], dataset: { testid }, on: onClick ? { click: onClick } : undefined, ...rest },
    text,
  );
}

export function pre(text, testid) {
  return h("pre", { class: "code", tabindex: "0", dataset: { testid } }, text);
}

export function splitList(text) {
  return String(text || "")
    .split(/[\n,，]/)
    .map((x) => x.trim())
    .filter(Boolean);
}

export function toIso(localValue) {
  if (!localValue) return "";
  const d = new Date(localValue);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
