"""An event as an email: a plain-text part and an HTML part with the same content.

The HTML is a single table with inline styles (mail clients drop `<style>` and scripts); every
value from the release is HTML-escaped. Both parts list the same fields, hosts (or a digest's
lines, or a template's body), the link to the task and the time.
"""

from __future__ import annotations

import html

from herald.domain.messages import Message, digest_lines, footer, host_sections, text

COLORS = {
    "blue": "#3370ff",
    "turquoise": "#14c0b4",
    "green": "#2ea043",
    "red": "#d73a49",
    "orange": "#f0883e",
}


def rows(message: Message, shown: int) -> list[tuple[str, str]]:
    """(label, value) rows of the message body; a digest or template has one unlabelled row."""
    if message.body_override is not None:
        return [("", message.body_override)]
    if message.lines:
        return [("", "\n".join(digest_lines(message, shown)))]
    return [*message.fields, *host_sections(message, shown)]


def plain_text(message: Message, shown: int) -> str:
    lines = [message.title, "=" * min(len(message.title) * 2, 60), ""]
    for label, value in rows(message, shown):
        lines.append(f"{label}: {value}" if label else value)
    if message.link:
        lines += ["", f"{text(message.locale, 'open')}: {message.link}"]
    lines += ["", "-- ", footer(message)]
    return "\n".join(lines) + "\n"


def html_text(message: Message, shown: int) -> str:
    color = COLORS.get(message.color, COLORS["blue"])
    body_rows = "".join(_row(label, value) for label, value in rows(message, shown))
    button = ""
    if message.link:
        button = (
            f'<p style="margin:16px 0"><a href="{html.escape(message.link)}" '
            f'style="background:{color};color:#fff;padding:8px 14px;border-radius:4px;'
            f'text-decoration:none">{html.escape(text(message.locale, "open"))}</a></p>'
        )
    lang = "zh-CN" if message.locale == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(message.title)}</title></head>"
        '<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;'
        'color:#1f2328;margin:0;padding:16px">'
        f'<div style="border-left:4px solid {color};padding:4px 12px;max-width:640px">'
        f'<h2 style="margin:0 0 12px;font-size:18px">{html.escape(message.title)}</h2>'
        f'<table style="border-collapse:collapse;font-size:14px">{body_rows}</table>'
        f"{button}"
        f'<p style="color:#656d76;font-size:12px;margin:12px 0 0">'
        f"{html.escape(footer(message))}</p></div></body></html>\n"
    )


def _row(label: str, value: str) -> str:
    shown = html.escape(value).replace("\n", "<br>")
    if not label:
        return f'<tr><td colspan="2" style="padding:4px 0">{shown}</td></tr>'
    return (
        f'<tr><th style="text-align:left;padding:4px 16px 4px 0;vertical-align:top;'
        f'white-space:nowrap">{html.escape(label)}</th>'
        f'<td style="padding:4px 0;word-break:break-all">{shown}</td></tr>'
    )
