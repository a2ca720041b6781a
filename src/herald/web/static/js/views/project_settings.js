// A project's settings: rename it, change its description and the environments its tasks may
// use (maintainers of the project), delete it (admins; refused while it has tasks).

import { RELEASE, del, forgetCaches, patch } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { busy, button, clearInvalid, confirmDialog, field, section, splitList } from "../ui.js";

const enc = encodeURIComponent;

export function projectSettings(ctx, project, { onSaved, markFields }) {
  const msg = h("div", { class: "msg", dataset: { testid: "project-settings-msg" } });
  const fName = field(t("project.name"), { required: true, maxlength: 100, value: project.name, dataset: { key: "name", testid: "project-rename" } });
  const fDesc = field(t("project.description"), { maxlength: 2000, value: project.description, dataset: { key: "description" } });
  const fEnvs = field(t("project.environments"), {
    value: (project.environments || []).join(", "),
    help: t("project.environments_help"),
    dataset: { key: "environments", testid: "project-environments" },
  });
  const saveBtn = h("button", { type: "submit", class: "btn btn-primary", dataset: { testid: "project-save" } }, t("common.save"));
  const deleteBtn = button(t("project.delete"), { kind: "danger", testid: "project-delete" });
  deleteBtn.addEventListener("click", async () => {
    if (!(await confirmDialog(t("project.delete_confirm", { name: project.name }), { danger: true, confirmLabel: t("common.delete") }))) return;
    await busy(deleteBtn, msg, async () => {
      await del(`${RELEASE}/projects/${enc(project.id)}`);
      forgetCaches();
      ctx.navigate("/ui/projects");
    });
  });
  const form = h(
    "form",
    {
      class: "form",
      dataset: { testid: "project-settings" },
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          clearInvalid(form);
          await busy(saveBtn, msg, async () => {
            const body = { name: fName.input.value.trim(), description: fDesc.input.value.trim(), environments: splitList(fEnvs.input.value) };
            let saved;
            try {
              saved = await patch(`${RELEASE}/projects/${enc(project.id)}`, body);
            } catch (err) {
              markFields(form, err);
              throw err;
            }
            forgetCaches();
            onSaved(saved);
          });
        },
      },
    },
    h("div", { class: "grid-3" }, fName.wrap, fDesc.wrap, fEnvs.wrap),
    h("p", { class: "help" }, t("project.delete_help")),
    msg,
    h("div", { class: "form-actions" }, saveBtn, deleteBtn),
  );
  return section(t("project.settings"), form);
}
