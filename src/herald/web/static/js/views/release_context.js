// The release context (operator, commit, ref, pipeline, links, changelog, labels) and the run
// id: shown on a task's page, entered in the new-task form. Environments are free labels; a
// datalist offers the project's own list, or the defaults.

import { h, uniqueId } from "../dom.js";
import { t } from "../i18n.js";
import { facts, field, splitList } from "../ui.js";

const external = (url, text) => h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text || url);

/** The task's context and run id as facts, or null when it has neither. */
export function contextFacts(task) {
  const c = task.context || {};
  const rows = [
    task.run_id ? [t("ctx.run_id"), h("code", { class: "mono" }, task.run_id)] : null,
    c.operator ? [t("ctx.operator"), c.operator] : null,
    c.commit ? [t("ctx.commit"), h("code", { class: "mono" }, c.commit)] : null,
    c.ref ? [t("ctx.ref"), h("code", { class: "mono" }, c.ref)] : null,
    c.pipeline_url ? [t("ctx.pipeline_url"), external(c.pipeline_url)] : null,
    c.links && c.links.length ? [t("ctx.links"), h("ul", { class: "plain" }, c.links.map((l) => h("li", external(l.url, l.title))))] : null,
    c.labels && Object.keys(c.labels).length
      ? [t("ctx.labels"), h("span", Object.entries(c.labels).map(([k, v]) => h("span", { class: "tag" }, `${k}=${v}`)))]
      : null,
    c.changelog ? [t("ctx.changelog"), h("pre", { class: "code wrap" }, c.changelog)] : null,
  ].filter(Boolean);
  return rows.length ? facts(rows, "task-context") : null;
}

/** A free-text environment input offering `choices` (the project's list, else the defaults). */
export function environmentField(choices, value) {
  const listId = uniqueId("envs");
  const f = field(t("task.environment"), {
    value,
    required: true,
    maxlength: 64,
    list: listId,
    help: t("task.environment_help"),
    dataset: { key: "environment", testid: "task-environment" },
  });
  const datalist = h("datalist", { id: listId });
  f.wrap.append(datalist);
  f.choose = (list) => {
    datalist.replaceChildren(...list.map((env) => h("option", { value: env })));
  };
  f.choose(choices);
  return f;
}

/** The context inputs, folded: `{wrap, value()}`; value() leaves out what is empty. */
export function contextFields() {
  const fOperator = field(t("ctx.operator"), { maxlength: 200, dataset: { key: "context.operator", testid: "ctx-operator" } });
  const fCommit = field(t("ctx.commit"), { maxlength: 200, dataset: { key: "context.commit", testid: "ctx-commit" } });
  const fRef = field(t("ctx.ref"), { maxlength: 200, dataset: { key: "context.ref" } });
  const fPipeline = field(t("ctx.pipeline_url"), { type: "url", maxlength: 2000, placeholder: "https://", dataset: { key: "context.pipeline_url", testid: "ctx-pipeline" } });
  const fLinks = field(t("ctx.links"), { type: "textarea", rows: 2, help: t("ctx.links_help"), dataset: { key: "context.links" } });
  const fChangelog = field(t("ctx.changelog"), { type: "textarea", rows: 3, maxlength: 4000, dataset: { key: "context.changelog", testid: "ctx-changelog" } });
  const fLabels = field(t("ctx.labels"), { help: t("ctx.labels_help"), dataset: { key: "context.labels", testid: "ctx-labels" } });
  const wrap = h(
    "details",
    { class: "advanced", dataset: { testid: "ctx-fields" } },
    h("summary", t("ctx.title")),
    h("div", { class: "grid-3" }, fOperator.wrap, fCommit.wrap, fRef.wrap),
    h("div", { class: "grid-2" }, fPipeline.wrap, fLabels.wrap),
    h("div", { class: "grid-2" }, fLinks.wrap, fChangelog.wrap),
  );
  function value() {
    const context = {};
    for (const [key, f] of [["operator", fOperator], ["commit", fCommit], ["ref", fRef], ["pipeline_url", fPipeline], ["changelog", fChangelog]]) {
      const text = f.input.value.trim();
      if (text) context[key] = text;
    }
    const links = fLinks.input.value
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const at = line.lastIndexOf(" ");
        return at > 0 ? { title: line.slice(0, at).trim(), url: line.slice(at + 1) } : { title: line, url: line };
      });
    if (links.length) context.links = links;
    const labels = {};
    for (const pair of splitList(fLabels.input.value)) {
      const [k, ...rest] = pair.split("=");
      labels[k.trim()] = rest.join("=").trim();
    }
    if (Object.keys(labels).length) context.labels = labels;
    return context;
  }
  return { wrap, value };
}
