// Who the signed-in token is (GET /api/v1/me) and what it may do. Views ask `can(action, project)`
// before drawing a control, so a viewer never sees a button that would only earn a 403.

import { api } from "./api.js";

let me = null; // {token_id, name, role, projects} once known
let pending = null;

/** The caller as `GET /api/v1/me` answers (cached until `forgetMe`); rejects like `api`. */
export function loadMe() {
  if (me) return Promise.resolve(me);
  if (!pending) {
    pending = api("GET", "/api/v1/me")
      .then((answer) => {
        me = answer;
        return me;
      })
      .finally(() => {
        pending = null;
      });
  }
  return pending;
}

/** Ask the server who `token` is, without storing it or raising the sign-in screen. */
export function checkToken(token) {
  return api("GET", "/api/v1/me", { token, quiet: true });
}

export function whoami() {
  return me;
}

export function forgetMe() {
  me = null;
  pending = null;
}

/**
 * Whether the signed-in token may do `action`: "admin" (tokens, new projects), "write"
 * (change tasks, versions, configs and deliveries of `projectId`, or of any project when it is
 * omitted) or "read". False while the caller is unknown: show less, never more.
 */
export function can(action, projectId) {
  if (!me) return false;
  if (me.role === "admin") return true;
  const inScope = !projectId || me.projects.includes(projectId);
  if (action === "read") return inScope;
  if (action === "write") return me.role === "maintainer" && inScope;
  return false;
}

/** `node` when `can(action, projectId)`, else null (h() skips null children). */
export function ifCan(action, projectId, node) {
  return can(action, projectId) ? node : null;
}
