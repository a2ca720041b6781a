// One channel's card in the config editor, drawn from the channel type's description
// (GET /api/v1/channel-types): the inputs follow its settings' JSON Schema, the labels, help
// texts and placeholders its field texts, so a new channel type needs no change here.

import { clear, h, mount } from "../dom.js";
import { label, pick, t } from "../i18n.js";
import { alertBox, button, field, jsonError, splitList } from "../ui.js";

const MASK = "****";

/**
 * The form fields of a channel type (one entry of GET /api/v1/channel-types), in form order:
 * the widget comes from the settings' JSON Schema, labels and help from the type's field texts.
 */
function formFields(info) {
  const schema = info.config_schema;
  const required = new Set(schema.required || []);
  return info.fields.map((text) => {
    const prop = schema.properties[text.name] || {};
    // A field that may be null is `anyOf: [{…}, {type: "null"}]`: describe the non-null branch.
    const shape = { ...((prop.anyOf || []).find((p) => p.type !== "null") || {}), ...prop };
    return {
      key: text.name,
      kind: kindOf(shape),
      label: pick(text.label),
      help: text.help ? pick(text.help) : undefined,
      placeholder: text.placeholder ?? undefined,
      required: required.has(text.name),
      default: prop.default,
      min: Number.isSafeInteger(shape.minimum) ? shape.minimum : undefined,
      max: Number.isSafeInteger(shape.maximum) ? shape.maximum : undefined,
      choices: shape.enum,
      keepEmpty: text.send_empty,
      advanced: Boolean(text.advanced),
    };
  });
}

function kindOf(shape) {
  if (shape.type === "boolean") return "bool";
  // A list of objects (mention rules) has no flat widget: it is edited as JSON.
  if (shape.type === "array" && shape.items && (shape.items.$ref || shape.items.type === "object")) return "json";
  if (shape.type === "array") return "list";
  if (shape.type === "integer") return "int";
  if (shape.enum) return "select";
  if (shape.type === "object") return "headers";
  if (shape.format === "uri") return "url";
  if (Number.isSafeInteger(shape.maxLength) && shape.maxLength > 4096) return "multiline";
  if (shape.secret) return "secret";
  if (shape.type === "string" && shape.maxLength > 4096) return "long"; // e.g. PEM certificates
  return "text";
}

/** A list of objects one per line, without the keys that only repeat a default (empty lists,
 * false), so a mention rule reads as what it says: {"events": ["task_failed"], "users": ["U1"]}. */
function jsonList(items) {
  if (!items.length) return "";
  const lean = items.map((item) =>
    Object.fromEntries(Object.entries(item).filter(([, v]) => v !== false && !(Array.isArray(v) && v.length === 0))),
  );
  return `[\n${lean.map((item) => `  ${JSON.stringify(item)}`).join(",\n")}\n]`;
}

/** The help under a field: its own text, then what the widget needs said (joined by a space). */
function helpText(...parts) {
  const text = parts.filter(Boolean).join(" ");
  return text || undefined;
}

/** One channel's card: type, enabled, per-type fields, rate limit, templates. `types` maps each
 * channel type to its description from the server. `destinations` (those the config may use)
 * adds a choice between inline settings and a destination; `bare` draws only what a destination
 * holds (type, settings, rate limit). */
export function channelCard(initial, { onRemove, onChange, types, destinations = [], bare = false }) {
  const state = { id: initial.id || null, type: initial.type || [...types.keys()][0] };
  const card = h("fieldset", { class: "channel-card", dataset: { testid: "channel-card", channelId: state.id || undefined } });
  let inputs = {};
  const legend = h("legend");
  const fType = field(t("cfg.channel_type"), {
    type: "select",
    options: [...types.keys()].map((c) => [c, `${label("channel", c)} (${c})`]),
    value: state.type,
    dataset: { key: "type", testid: "channel-type" },
  });
  const fEnabled = field(t("cfg.channel_enabled"), { type: "checkbox", checked: initial.enabled !== false, dataset: { key: "enabled", testid: "channel-enabled" } });
  const fieldsSlot = h("div", { class: "grid-2 channel-fields" });
  const advancedSlot = h("div", { class: "grid-2 channel-fields", dataset: { testid: "channel-advanced-fields" } });
  const rl = initial.rate_limit || {};
  const fRateCount = field(t("cfg.rate_count"), { type: "number", min: 1, max: 10000, value: rl.count ?? "", dataset: { key: "rate_limit.count" } });
  const fRatePer = field(t("cfg.rate_per"), { type: "number", min: 0, step: "any", value: rl.per_seconds ?? "", dataset: { key: "rate_limit.per_seconds" } });
  const fTemplates = field(t("cfg.channel_templates"), {
    type: "textarea",
    rows: 4,
    class: "mono",
    value: initial.templates ? JSON.stringify(initial.templates, null, 2) : "",
    placeholder: '{"default": {"title": "{{ project.name }}: {{ title }}"}}',
    help: t("cfg.templates_help"),
    dataset: { key: "templates" },
  });
  const fDest = field(t("dest.use"), {
    type: "select",
    options: [["", t("dest.inline")], ...destinations.map((d) => [d.id, `${d.name} · ${label("channel", d.type)}${d.project_id ? "" : ` (${t("dest.org_short")})`}`])],
    value: initial.destination_id || "",
    help: t("dest.use_help"),
    dataset: { key: "destination_id", testid: "channel-destination" },
  });
  fDest.wrap.hidden = bare || !destinations.length;
  const warningsSlot = h("div");
  if (initial.warnings && initial.warnings.length) {
    mount(warningsSlot, alertBox("warn", h("ul", initial.warnings.map((w) => h("li", w)))));
    warningsSlot.dataset.testid = "channel-warnings";
  }

  function drawFields(values) {
    inputs = {};
    clear(fieldsSlot);
    clear(advancedSlot);
    const info = types.get(state.type);
    for (const spec of info ? formFields(info) : []) {
      const raw = values ? values[spec.key] : undefined;
      const value = raw === undefined || raw === null ? (values ? "" : spec.default ?? "") : raw;
      const common = { dataset: { key: `config.${spec.key}`, testid: `ch-${spec.key}` }, required: spec.required || undefined };
      const hasMask = typeof value === "string" && value.includes(MASK);
      let f;
      if (spec.kind === "bool") {
        f = field(spec.label, { type: "checkbox", checked: Boolean(value), help: spec.help, ...common });
      } else if (spec.kind === "list") {
        const help = helpText(spec.help, t("cfg.list_help"));
        f = field(spec.label, { value: Array.isArray(value) ? value.join(", ") : value, placeholder: spec.placeholder, help, ...common });
      } else if (spec.kind === "int") {
        f = field(spec.label, { type: "number", min: spec.min, max: spec.max, step: 1, value, placeholder: spec.placeholder, help: spec.help, ...common });
      } else if (spec.kind === "select") {
        f = field(spec.label, { type: "select", options: spec.choices.map((c) => [c, c]), value: value || spec.default, help: spec.help, ...common });
      } else if (spec.kind === "json") {
        const items = Array.isArray(value) ? value : [];
        f = field(spec.label, {
          type: "textarea",
          rows: Math.min(8, Math.max(3, items.length + 2)),
          class: "mono",
          value: jsonList(items),
          placeholder: spec.placeholder,
          help: spec.help,
          ...common,
        });
      } else if (spec.kind === "multiline") {
        f = field(spec.label, { type: "textarea", rows: 3, class: "mono", value, placeholder: spec.placeholder, help: spec.help, ...common });
      } else if (spec.kind === "headers") {
        const text = value && typeof value === "object" ? Object.entries(value).map(([k, v]) => `${k}: ${v}`).join("\n") : "";
        f = field(spec.label, {
          type: "textarea",
          rows: 3,
          class: "mono",
          value: text,
          placeholder: spec.placeholder,
          help: helpText(spec.help, text.includes(MASK) && t("cfg.masked_help")),
          ...common,
        });
      } else if (spec.kind === "long") {
        f = field(spec.label, { type: "textarea", rows: 4, class: "mono", value, placeholder: spec.placeholder, spellcheck: "false", help: spec.help, ...common });
      } else {
        f = field(spec.label, {
          type: "text",
          value,
          placeholder: spec.placeholder,
          autocomplete: "off",
          spellcheck: "false",
          class: spec.kind === "url" || spec.kind === "secret" ? "mono" : undefined,
          help: helpText(spec.help, hasMask ? t("cfg.masked_help") : spec.kind === "secret" && t("cfg.secret_help")),
          ...common,
        });
      }
      if (hasMask) f.wrap.classList.add("is-masked");
      inputs[spec.key] = { spec, input: f.input };
      (spec.advanced ? advancedSlot : fieldsSlot).appendChild(f.wrap);
      if (spec.advanced && value) advanced.open = true; // a set proxy is never hidden
    }
  }

  function chosen() {
    return destinations.find((d) => d.id === fDest.input.value) || null;
  }

  function setLegend(position) {
    const dest = chosen();
    const kind = label("channel", dest ? dest.type : state.type);
    legend.textContent = bare ? kind : `${t("cfg.channel")} ${position + 1} · ${kind}${dest ? ` · ${dest.name}` : ""}`;
  }

  /** A reference hides what the destination holds: type, settings, rate limit. */
  function showInline() {
    const inline = !chosen();
    fType.wrap.hidden = !inline;
    fieldsSlot.hidden = !inline;
    advancedSlot.hidden = !inline;
    rateRow.hidden = !inline;
    rateHelp.hidden = !inline;
    warningsSlot.hidden = !inline;
  }
  fDest.input.addEventListener("change", () => {
    showInline();
    onChange();
  });

  fType.input.addEventListener("change", () => {
    state.type = fType.input.value;
    drawFields(null);
    onChange();
  });

  const removeBtn = bare ? null : button(t("cfg.remove_channel"), { kind: "link-danger", testid: "channel-remove", onClick: () => onRemove(card) });
  const rateRow = h("div", { class: "grid-2" }, fRateCount.wrap, fRatePer.wrap);
  const rateHelp = h("p", { class: "help" }, t("cfg.rate_help"));
  const idTag = bare ? null : state.id ? h("span", { class: "muted mono", title: state.id }, `id ${state.id.slice(0, 8)}…`) : h("span", { class: "tag" }, t("cfg.new_channel"));
  if (bare) fType.input.disabled = Boolean(initial.type && initial.config); // a destination's type is fixed
  const advanced = h(
    "details",
    { class: "advanced", open: bare && initial.rate_limit ? true : undefined },
    h("summary", t("cfg.channel_advanced")),
    advancedSlot,
    rateRow,
    rateHelp,
    bare ? null : fTemplates.wrap,
  );
  card.append(
    legend,
    fDest.wrap,
    h("div", { class: "channel-head" }, fType.wrap, bare ? null : fEnabled.wrap, idTag, removeBtn),
    warningsSlot,
    fieldsSlot,
    advanced,
  );
  drawFields(initial.destination_id ? null : initial.config || null);
  showInline();

  function configValue() {
    const config = {};
    for (const [key, { spec, input }] of Object.entries(inputs)) {
      if (spec.kind === "bool") {
        config[key] = input.checked;
      } else if (spec.kind === "list") {
        config[key] = splitList(input.value);
      } else if (spec.kind === "int") {
        if (input.value !== "") config[key] = Number(input.value);
      } else if (spec.kind === "json") {
        const text = input.value.trim();
        try {
          config[key] = text ? JSON.parse(text) : [];
        } catch (err) {
          throw { key: `config.${key}`, message: jsonError(text, err) };
        }
      } else if (spec.kind === "headers") {
        const headers = {};
        for (const line of input.value.split("\n")) {
          if (!line.trim()) continue;
          const at = line.indexOf(":");
          if (at <= 0) throw { key: `config.${key}`, message: t("cfg.header_line_error", { line: line.trim() }) };
          headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
        }
        config[key] = headers;
      } else {
        const text = input.value.trim();
        if (text !== "" || spec.keepEmpty) config[key] = text;
      }
    }
    return config;
  }

  function templatesValue() {
    if (!fTemplates.input.value.trim()) return null;
    try {
      return JSON.parse(fTemplates.input.value);
    } catch (err) {
      throw { key: "templates", message: jsonError(fTemplates.input.value, err) };
    }
  }

  return {
    card,
    state,
    setLegend,
    /** The ChannelIn body (a reference when a destination is chosen), or with `bare` a
     * destination's type, settings and rate limit; throws {key, message} for a client-side
     * problem. */
    value() {
      const dest = chosen();
      if (dest) {
        const ref = { destination_id: dest.id, enabled: fEnabled.input.checked, templates: templatesValue() };
        if (state.id) ref.id = state.id;
        return ref;
      }
      const count = fRateCount.input.value;
      const per = fRatePer.input.value;
      const rateLimit = count === "" && per === "" ? null : { count: Number(count), per_seconds: Number(per) };
      if (bare) return { type: state.type, config: configValue(), rate_limit: rateLimit };
      const body = { type: state.type, enabled: fEnabled.input.checked, config: configValue(), rate_limit: rateLimit, templates: templatesValue() };
      if (state.id) body.id = state.id;
      return body;
    },
  };
}
