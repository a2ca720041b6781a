// The JSON API client: bearer token from localStorage, one error type for every failure.

import { addLabels } from "./i18n.js";

const TOKEN_KEY = "herald.token";
export const RELEASE = "/api/v1/release";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Field-level problems as [{field, message}], from either error-details shape. */
  fieldErrors() {
    const d = this.details;
    if (Array.isArray(d)) {
      return d
        .filter((x) => x && typeof x.field === "string")
        .map((x) => ({ field: x.field, message: x.message || this.message }));
    }
    if (d && typeof d === "object" && typeof d.field === "string") {
      const prefix = `${d.field}: `;
      const message = this.message.startsWith(prefix) ? this.message.slice(prefix.length) : this.message;
      return [{ field: d.field, message }];
    }
    return [];
  }
}

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent("herald:token", { detail: { token } }));
}

function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * Call the API. Resolves with the parsed JSON (null for 204); rejects with ApiError.
 * A 401 also fires `herald:unauthorized` so the shell can ask for a token (unless `quiet`);
 * `token` overrides the stored one (to check a token before saving it).
 */
export async function api(method, path, { query, body, signal, token = getToken(), quiet = false } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", String((err && err.message) || err), null);
  }
  if (response.status === 204) return null;
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    const failure = new ApiError(
      response.status,
      error.code || "http_" + response.status,
      error.message || `HTTP ${response.status}`,
      error.details === undefined ? null : error.details,
    );
    if (response.status === 401 && !quiet) {
      window.dispatchEvent(new CustomEvent("herald:unauthorized", { detail: failure }));
    }
    throw failure;
  }
  return data;
}

export const get = (path, query, signal) => api("GET", path, { query, signal });
export const post = (path, body) => api("POST", path, { body });
export const put = (path, body) => api("PUT", path, { body });
export const patch = (path, body) => api("PATCH", path, { body });
export const del = (path) => api("DELETE", path);

/** Every item of a paginated list (up to `max` items). */
export async function getAll(path, query = {}, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path, { ...query, limit: 200, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

// Small caches for names the API only gives as ids (projects, versions, configs).
const projectCache = { at: 0, list: null, pending: null };

export async function projects(force = false) {
  const fresh = Date.now() - projectCache.at < 15000;
  if (!force && projectCache.list && fresh) return projectCache.list;
  if (!force && projectCache.pending) return projectCache.pending;
  projectCache.pending = getAll(`${RELEASE}/projects`)
    .then((list) => {
      projectCache.list = list;
      projectCache.at = Date.now();
      return list;
    })
    .finally(() => {
      projectCache.pending = null;
    });
  return projectCache.pending;
}

export async function projectMap() {
  const map = new Map();
  for (const p of await projects()) map.set(p.id, p);
  return map;
}

const versionCache = new Map();

/** The project's versions (newest first), cached briefly; there is no GET /versions/{id}. */
export async function versions(projectId, force = false) {
  const hit = versionCache.get(projectId);
  if (!force && hit && Date.now() - hit.at < 15000) return hit.list;
  const list = await getAll(`${RELEASE}/projects/${encodeURIComponent(projectId)}/versions`);
  versionCache.set(projectId, { at: Date.now(), list });
  return list;
}

export async function versionName(projectId, versionId) {
  try {
    const found = (await versions(projectId)).find((v) => v.id === versionId);
    return found ? found.name : null;
  } catch {
    return null;
  }
}

let channelTypeList = null; // a promise, kept once it succeeds

/**
 * The channel types (GET /api/v1/channel-types): each type's settings schema, form fields with
 * zh/en labels, and capabilities. Fetched once; their zh/en names become `label("channel", …)`.
 */
export function channelTypes() {
  if (!channelTypeList) {
    channelTypeList = get("/api/v1/channel-types").then(
      (answer) => {
        addLabels("channel", Object.fromEntries(answer.items.map((item) => [item.type, item.label])));
        return answer.items;
      },
      (err) => {
        channelTypeList = null; // a 401 or an outage must not stick: ask again next time
        throw err;
      },
    );
  }
  return channelTypeList;
}

export function forgetCaches() {
  projectCache.list = null;
  projectCache.at = 0;
  versionCache.clear();
}
