"""What a release carries beyond the PRD's fields: who, which commit, where to look, what changed.

A task's context is chosen by whoever starts the release (a person in the UI, a pipeline through
the API, the CLI or an inbound webhook) and travels unchanged into every event of the task: the
default messages show it, templates see it, and the custom JSON carries it under `context`.
Every field is optional; an empty context is `{}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from herald.domain.errors import InvalidInput
from herald.domain.labels import has_control_characters

MAX_SHORT_TEXT = 200
MAX_URL = 2000
MAX_CHANGELOG = 4000
MAX_LINKS = 10
MAX_LABELS = 20


class ReleaseLink(TypedDict):
    title: str
    url: str


class ReleaseContext(TypedDict):
    """The shape stored on a task and shown in messages; key order is the display order."""

    operator: NotRequired[str]
    commit: NotRequired[str]
    ref: NotRequired[str]
    pipeline_url: NotRequired[str]
    links: NotRequired[list[ReleaseLink]]
    changelog: NotRequired[str]
    labels: NotRequired[dict[str, str]]


_SHORT_FIELDS = ("operator", "commit", "ref")


def normalise_context(raw: Mapping[str, Any] | None) -> ReleaseContext:
    """Validate `raw` and return it with empty fields dropped, in display order.

    Raises `InvalidInput` naming the field for an unknown key, a wrong type, a control character
    in a one-line field, a URL that is not http(s), or a value over its limit.
    """
    if not raw:
        return {}
    unknown = sorted(set(raw) - set(ReleaseContext.__annotations__))
    if unknown:
        raise InvalidInput(f"context: unknown field {unknown[0]!r}; use labels for free key-values")
    context: ReleaseContext = {}
    for key in _SHORT_FIELDS:
        value = _text(raw, key, MAX_SHORT_TEXT, one_line=True)
        if value:
            context[key] = value  # type: ignore[literal-required]
    pipeline_url = _url(raw.get("pipeline_url"), "context.pipeline_url")
    if pipeline_url:
        context["pipeline_url"] = pipeline_url
    links = _links(raw.get("links"))
    if links:
        context["links"] = links
    changelog = _text(raw, "changelog", MAX_CHANGELOG, one_line=False)
    if changelog:
        context["changelog"] = changelog
    labels = _labels(raw.get("labels"))
    if labels:
        context["labels"] = labels
    return context


def _text(raw: Mapping[str, Any], key: str, limit: int, *, one_line: bool) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"context.{key}: must be a string")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"context.{key}: at most {limit} characters")
    if one_line and has_control_characters(value):
        raise InvalidInput(f"context.{key}: must be one line without control characters")
    return value


def _url(value: Any, where: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: must be a string")
    url = value.strip()
    if len(url) > MAX_URL:
        raise InvalidInput(f"{where}: at most {MAX_URL} characters")
    if not url.lower().startswith(("http://", "https://")) or has_control_characters(url):
        raise InvalidInput(f"{where}: give an http(s) URL such as https://ci.example.com/run/42")
    return url


def _links(value: Any) -> list[ReleaseLink]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput("context.links: must be a list of {title, url}")
    if len(value) > MAX_LINKS:
        raise InvalidInput(f"context.links: at most {MAX_LINKS} links")
    links: list[ReleaseLink] = []
    for index, item in enumerate(value):
        where = f"context.links[{index}]"
        if not isinstance(item, Mapping) or set(item) - {"title", "url"}:
            raise InvalidInput(f"{where}: must be an object with title and url")
        title = _text(item, "title", MAX_SHORT_TEXT, one_line=True) if "title" in item else ""
        url = _url(item.get("url"), f"{where}.url")
        if not url:
            raise InvalidInput(f"{where}.url: required")
        links.append({"title": title or url, "url": url})
    return links


def _labels(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput("context.labels: must be an object of string keys and values")
    if len(value) > MAX_LABELS:
        raise InvalidInput(f"context.labels: at most {MAX_LABELS} labels")
    labels: dict[str, str] = {}
    for key, item in value.items():
        ok = isinstance(key, str) and isinstance(item, str)
        if not ok or not key.strip() or len(key) > 64 or len(item) > MAX_SHORT_TEXT:
            raise InvalidInput(
                "context.labels: keys of 1-64 and values of at most 200 characters, both strings"
            )
        if has_control_characters(key) or has_control_characters(item):
            raise InvalidInput("context.labels: no control characters")
        labels[key.strip()] = item.strip()
    return labels
