"""Render the Argo notification templates of docs/integrations.md without Argo.

A small interpreter for the subset of Go `text/template` + Sprig those templates use: field
paths (`.app.metadata.name`), string/number/bool literals, parentheses, pipelines (`x | f`)
and the functions `toJson`, `dig`, `printf` (`%s`, `%d`), `len`, `list` and `hasKey`.
Anything else raises, so a template that drifts outside the subset fails its test instead of
rendering something Argo would not.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _dig(*args: Any) -> Any:
    *keys, default, obj = args
    for key in keys:
        if not isinstance(obj, Mapping) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _printf(fmt: str, *args: Any) -> str:
    remaining = list(args)
    return re.sub(r"%[sd]", lambda _: str(remaining.pop(0)), fmt)


def _has_key(obj: Any, key: str) -> bool:
    return isinstance(obj, Mapping) and key in obj


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "toJson": _to_json,
    "dig": _dig,
    "printf": _printf,
    "len": len,
    "list": lambda *items: list(items),
    "hasKey": _has_key,
}


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text.replace("(", " ( ").replace(")", " ) "), posix=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def _field(path: str, data: Mapping[str, Any]) -> Any:
    value: Any = data
    for part in path.strip(".").split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(f"no field {path}")
        value = value[part]
    return value


def _literal(token: str, data: Mapping[str, Any]) -> Any:
    if token.startswith('"'):
        return json.loads(token)
    if token in ("true", "false"):
        return token == "true"
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    if token.startswith("."):
        return _field(token, data)
    if token in FUNCTIONS:
        return FUNCTIONS[token]()
    raise ValueError(f"unsupported template token {token!r}")


def _group(tokens: list[str], start: int) -> tuple[list[str], int]:
    depth, i = 0, start
    while i < len(tokens):
        depth += {"(": 1, ")": -1}.get(tokens[i], 0)
        if depth == 0:
            return tokens[start + 1 : i], i + 1
        i += 1
    raise ValueError("unbalanced parentheses")


def _command(tokens: list[str], data: Mapping[str, Any], piped: list[Any]) -> Any:
    args: list[Any] = []
    i = 1 if tokens[0] in FUNCTIONS else 0
    while i < len(tokens):
        if tokens[i] == "(":
            inner, i = _group(tokens, i)
            args.append(_pipeline(inner, data))
        else:
            args.append(_literal(tokens[i], data))
            i += 1
    if tokens[0] in FUNCTIONS:
        return FUNCTIONS[tokens[0]](*args, *piped)
    if piped or len(args) != 1:
        raise ValueError(f"cannot apply {tokens!r}")
    return args[0]


def _pipeline(tokens: list[str], data: Mapping[str, Any]) -> Any:
    commands: list[list[str]] = [[]]
    depth = 0
    for token in tokens:
        depth += {"(": 1, ")": -1}.get(token, 0)
        if token == "|" and depth == 0:
            commands.append([])
        else:
            commands[-1].append(token)
    value = _command(commands[0], data, [])
    for command in commands[1:]:
        value = _command(command, data, [value])
    return value


def render(template: str, data: Mapping[str, Any]) -> str:
    """`template` with every `{{ … }}` action evaluated against `data`."""

    def action(match: re.Match[str]) -> str:
        value = _pipeline(_tokens(match.group(1)), data)
        return value if isinstance(value, str) else str(value)

    return _ACTION.sub(action, template)
