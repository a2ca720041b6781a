"""How the events beyond the PRD read in a message: step headlines, the release context.

Kept apart from `herald.domain.messages` (which uses it) so the default message stays one
place per concern: the PRD layout there, the issue-11 additions here. Everything is plain
(label, value) text, so every channel — the built-in ones and any added later — shows it
through the generic field list without code of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.domain.release_context import ReleaseContext
from herald.domain.text_limits import truncate_utf8

# A chat notification is a summary: the changelog's first lines, on one line, within this many
# UTF-8 bytes; the senders cut further if a platform's limit needs it.
CHANGELOG_BYTES = 400
COMMIT_CHARS = 12  # a git commit shown as its usual abbreviation

_TEXT: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "step": "金丝雀第 {index}/{total} 步（{size}）完成",
        "weight": "{weight}%",
        "hosts": "{hosts} 台",
        "one_host": "1 台",
        "weight_hosts": "{weight}%，{hosts}",
        "operator": "操作人",
        "commit": "提交",
        "pipeline": "流水线",
        "links": "链接",
        "labels": "标签",
        "changelog": "变更",
        "rolling": "滚动发布开始",
        "blue_green": "蓝绿发布开始",
    },
    "en": {
        "step": "Canary step {index} of {total} ({size}) done",
        "weight": "{weight}%",
        "hosts": "{hosts} hosts",
        "one_host": "1 host",
        "weight_hosts": "{weight}%, {hosts}",
        "operator": "Operator",
        "commit": "Commit",
        "pipeline": "Pipeline",
        "links": "Links",
        "labels": "Labels",
        "changelog": "Changes",
        "rolling": "Rolling release started",
        "blue_green": "Blue-green release started",
    },
}


def specific_headline(loc: str, payload: Mapping[str, Any]) -> str | None:
    """The headline of an event whose wording depends on its payload, e.g. "金丝雀第 2/3 步
    （50%）完成" or "蓝绿发布开始"; None when the event type's fixed title applies."""
    words = _TEXT[loc]
    kind = payload.get("event_type")
    step = payload.get("step")
    if kind == "canary_step" and isinstance(step, Mapping):
        weight, count = step.get("weight"), step.get("hosts")
        hosts = words["one_host"] if count == 1 else words["hosts"].format(hosts=count)
        if weight is not None and count is not None:
            size = words["weight_hosts"].format(weight=weight, hosts=hosts)
        elif weight is not None:
            size = words["weight"].format(weight=weight)
        else:
            size = hosts
        return words["step"].format(index=step.get("index"), total=step.get("total"), size=size)
    if kind == "rollout_started":
        return words.get(str(payload.get("task", {}).get("strategy")))
    return None


def context_fields(loc: str, release: ReleaseContext | None) -> list[tuple[str, str]]:
    """(label, value) lines for a release context, compact and in display order: operator,
    commit (abbreviated, with its ref), pipeline URL, links, labels, the changelog on one line."""
    if not release:
        return []
    words = _TEXT[loc]
    fields: list[tuple[str, str]] = []
    if "operator" in release:
        fields.append((words["operator"], release["operator"]))
    commit = _commit(release)
    if commit:
        fields.append((words["commit"], commit))
    if "pipeline_url" in release:
        fields.append((words["pipeline"], release["pipeline_url"]))
    links = [_link(link["title"], link["url"]) for link in release.get("links", [])]
    if links:
        fields.append((words["links"], " · ".join(links)))
    labels = [f"{key}={value}" for key, value in release.get("labels", {}).items()]
    if labels:
        fields.append((words["labels"], ", ".join(labels)))
    if "changelog" in release:
        fields.append((words["changelog"], _one_line(release["changelog"])))
    return fields


def _commit(release: ReleaseContext) -> str:
    commit = release.get("commit", "")[:COMMIT_CHARS]
    ref = release.get("ref", "")
    if commit and ref:
        return f"{commit} ({ref})"
    return commit or ref


def _link(title: str, url: str) -> str:
    return url if title == url else f"{title}: {url}"


def _one_line(changelog: str) -> str:
    lines = [line.strip(" -*\t") for line in changelog.splitlines()]
    return truncate_utf8("; ".join(line for line in lines if line), CHANGELOG_BYTES)
