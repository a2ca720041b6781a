// Chinese and English labels. The language comes from localStorage, else the browser's
// preferred languages (the first zh* or en* wins), else Chinese.

import { en, zh } from "./strings.js";

const LANG_KEY = "herald.lang";
const DICTS = { zh, en };
let current = detect();

function detect() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && DICTS[saved]) return saved;
  } catch {
    // storage unavailable: fall through to the browser's languages
  }
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
  for (const pref of prefs) {
    const lower = String(pref).toLowerCase();
    if (lower.startsWith("zh")) return "zh";
    if (lower.startsWith("en")) return "en";
  }
  return "zh";
}

export function lang() {
  return current;
}

export function setLang(value) {
  if (!DICTS[value]) return;
  current = value;
  try {
    localStorage.setItem(LANG_KEY, value);
  } catch {
    // not persisted; still switched for this page
  }
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
}

/** The label for `key`, with {name} placeholders filled from `vars`. */
export function t(key, vars) {
  let text = DICTS[current][key];
  if (text === undefined) text = DICTS.en[key];
  if (text === undefined) text = key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (vars[name] === undefined ? m : String(vars[name])));
  }
  return text;
}

/** Add labels of enum values the server describes (channel types): `texts` maps each value to
 * `{zh, en}`, and `label(group, value)` answers them from then on. */
export function addLabels(group, texts) {
  for (const [value, text] of Object.entries(texts)) {
    for (const [code, dict] of Object.entries(DICTS)) {
      if (text[code] !== undefined) dict[`${group}.${value}`] = text[code];
    }
  }
}

/** `{zh, en}` from the server in the current language (English if missing); "" for none. */
export function pick(text) {
  if (!text) return "";
  return text[current] ?? text.en ?? "";
}

/** The label of an enum value (status, event type, …), or the value itself. */
export function label(group, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${group}.${value}`;
  const text = DICTS[current][key] ?? DICTS.en[key];
  return text === undefined ? String(value) : text;
}

export function locale() {
  return current === "zh" ? "zh-CN" : "en-GB";
}

export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(locale(), {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
}

/** "3 minutes ago" / "3分钟前" for times within a week (else the absolute time), relative to `now`. */
export function formatRelative(iso, now = Date.now()) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return formatTime(iso);
  const seconds = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs >= 7 * 86400) return formatTime(iso);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto", style: "short" });
  if (abs < 45) return rtf.format(0, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function formatMs(value) {
  if (value === null || value === undefined) return "—";
  return `${formatNumber(value, value < 10 ? 1 : 0)} ms`;
}

export function formatPercent(rate) {
  if (rate === null || rate === undefined) return "—";
  return `${formatNumber(rate * 100, 1)}%`;
}

setLang(current);
