"""Refuse request text that no store can hold, wherever it appears in a request.

PostgreSQL text cannot hold NUL and no store can encode an unpaired surrogate (see
`herald.domain.storable_text`). SQLite would take a NUL that PostgreSQL refuses, so rather than depend on
the store, every request is checked the same way before any route runs: path parameters, query
parameters (names and values) and every string of a JSON body, object keys included. The first
offending place is answered 422 `validation_error`, named like validation errors (`path.task_id`,
`query.status`, `results.0.output`). Malformed JSON is left to FastAPI (400).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request

from herald.api.error_responses import ApiError
from herald.domain.storable_text import problem, storable


async def refuse_unstorable_text(request: Request) -> None:
    """An app-wide dependency: `ApiError` 422 naming the first text no store can hold."""
    places: list[tuple[str, str]] = [(f"path.{k}", v) for k, v in request.path_params.items()]
    for name, value in request.query_params.multi_items():
        places += [(f"query.{name}", name), (f"query.{name}", value)]
    for field, text in places:
        _check(field, text)
    raw = await request.body()
    if not raw:
        return
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return
    for field, text in _strings(body):
        _check(field, text)


def _check(field: str, text: str) -> None:
    wrong = problem(text)
    if wrong is not None:
        field = storable(field)  # the field may be the offending object key itself
        detail = {"field": field, "message": wrong, "type": "unstorable_text"}
        raise ApiError(422, "validation_error", f"{field}: {wrong}", [detail])


def _strings(document: Any) -> Iterator[tuple[str, str]]:
    """Every string in a JSON document, with the dotted path of the field holding it (depth
    first, iteratively: a deeply nested body must not exhaust the stack)."""
    stack: list[tuple[list[str], Any]] = [([], document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield ".".join(path), value
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                stack.append(([*path, key], item))
                stack.append(([*path, key], key))
        elif isinstance(value, list):
            stack.extend(([*path, str(i)], item) for i, item in reversed(list(enumerate(value))))
