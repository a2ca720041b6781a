"""The Jinja sandbox behind user templates: allowed syntax, work and size limits, rendering.

`herald.publishing.templates` is the public face (validation, picking, rendering for messages); this module
holds the machinery that keeps a template from reading outside its data, running long or
producing unbounded output.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, cast

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.tests import TESTS
from jinja2.visitor import NodeTransformer

OUTPUT_LIMIT = 16_000  # characters of rendered body; senders fit it to their platform after
TITLE_LIMIT = 200
VALUE_LIMIT = 100_000  # largest text or list a template may build; far above any useful value
RANGE_LIMIT = 10_000
STEP_LIMIT = 200_000  # loop iterations, lookups, calls and operators per render (~0.1 s)
TIME_LIMIT = 0.5  # CPU seconds per render, for steps that are each expensive
_INT_BITS = 4096
_ELLIPSIS = "…"

TemplateSet = Mapping[str, Mapping[str, str | None]]


class TemplateError(Exception):
    """A template that may not be saved; the text names it: `templates.task_failed.body: line 2: …`."""

    def __init__(self, key: str, detail: str, line: int | None = None) -> None:
        super().__init__(f"{key}: line {line}: {detail}" if line else f"{key}: {detail}")
        self.key = key
        self.detail = detail
        self.line = line


class LimitError(Exception):
    """The template did too much work or built too large a value."""


# --- Work and size limits ------------------------------------------------------------------------


@dataclasses.dataclass
class _Budget:
    steps: int
    deadline: float


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "herald_template_budget", default=None
)


def _tick() -> None:
    """Count one step of template work; raise once the render's step or time budget is spent.

    Every loop iteration, call, attribute lookup and operator passes through here, so a template
    cannot run long without coming back to this check. Time is the thread's CPU time, so a busy
    machine does not fail good templates; reading it costs ~1 µs, hence every 16 steps.
    """
    budget = _budget.get()
    if budget is None:  # compile-time constant folding, bounded by the template text
        return
    budget.steps -= 1
    if budget.steps < 0 or (budget.steps % 16 == 0 and time.thread_time() > budget.deadline):
        raise LimitError("the template does too much work")


def _weight(value: object) -> int:
    """Characters of text plus one per other item, counting shared parts each time they occur
    (that is what printing or comparing costs); counting stops just past VALUE_LIMIT."""
    total, stack = 0, [value]
    while stack and total <= VALUE_LIMIT:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
            continue
        total += 1
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.items())
    return total


def _check_total(size: int) -> None:
    if size > VALUE_LIMIT:
        raise LimitError(f"a value would be larger than {VALUE_LIMIT} characters")


def _is_seq(value: object) -> bool:
    return isinstance(value, str | list | tuple)


# `%` formatting with a `*` or 4-digit width/precision could allocate gigabytes in one step.
_WIDE_FORMAT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{4,}|\d*\.(?:\*|\d{4,}))")

_BINOPS = SandboxedEnvironment.default_binop_table


def _precheck(op: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be huge, before computing it."""
    if op == "*":
        for seq, count in ((left, right), (right, left)):
            if _is_seq(seq) and isinstance(count, int):
                _check_total(_weight(seq) * max(count, 0))
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(left.bit_length() + right.bit_length())
    elif op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_bits((abs(left).bit_length() - 1) * right)
    elif op == "+" and _is_seq(left) and _is_seq(right):
        _check_total(_weight(left) + _weight(right))
    elif op == "%" and isinstance(left, str):
        if _WIDE_FORMAT.search(left):
            raise LimitError("format widths and precisions above 999 are not allowed")
        _check_total(len(left) + left.count("%") * _weight(right))


def _check_bits(bits: int) -> None:
    if bits > _INT_BITS:
        raise LimitError(f"a number would be larger than {_INT_BITS} bits")


def _binop(op: str, left: Any, right: Any) -> Any:
    _precheck(op, left, right)
    result = _BINOPS[op](left, right)
    if isinstance(result, int):
        _check_bits(result.bit_length())
    return result


def _range(*args: int) -> range:
    """`range()` for templates, refused beyond RANGE_LIMIT items."""
    result = range(*args)
    if len(result[: RANGE_LIMIT + 1]) > RANGE_LIMIT:  # slicing first: len() overflows on 10**100
        raise LimitError(f"range() is limited to {RANGE_LIMIT} items")
    return result


def _ticking_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `{% for %}` loops over: the iterable, one budget step per item."""
    for item in iterable:
        _tick()
        yield item


def _concat(parts: list[Any]) -> str:
    """`a ~ b`: text joined, cut past VALUE_LIMIT so repeated doubling stays bounded."""
    text = "".join([str(part) for part in parts])
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT] + _ELLIPSIS


def _checked_literal(value: Any) -> Any:
    """A list, tuple or dict the template built, refused if nesting made it huge."""
    _check_total(_weight(value))
    return value


_HELPERS: tuple[Callable[..., Any], ...] = (_range, _ticking_iter, _concat, _checked_literal)


# --- Filters -------------------------------------------------------------------------------------


def _join(value: Iterable[Any], separator: str = "") -> str:
    """Jinja's `join`, cut past VALUE_LIMIT characters."""
    separator, parts, size = str(separator), [], 0
    for item in value:
        parts.append(str(item))
        size += len(parts[-1]) + len(separator)
        if size > VALUE_LIMIT:
            return separator.join(parts)[:VALUE_LIMIT] + _ELLIPSIS
    return separator.join(parts)


def _hosts(value: Iterable[Any] | str, limit: int = 10) -> str:
    """`a, b, c …(+7)`: the first `limit` names, then how many were left out."""
    items = [value] if isinstance(value, str) else list(value)
    shown = _join(items[: max(limit, 0)], ", ")
    hidden = len(items) - min(len(items), max(limit, 0))
    return " ".join(part for part in (shown, f"…(+{hidden})" if hidden else "") if part)


_FILTERS: dict[str, Callable[..., Any]] = {
    "hosts": _hosts,
    "join": _join,
    **{name: FILTERS[name] for name in ("default", "truncate", "upper", "lower", "length")},
}


# --- The sandbox ---------------------------------------------------------------------------------


def _finalize(value: Any) -> Any:
    """None prints as empty text; so do functions, whose default text shows a memory address."""
    if value is None or (callable(value) and not isinstance(value, Undefined)):
        return ""
    return value


def _refuse_private(name: str) -> None:
    if name.startswith("_"):
        raise SecurityError(f"names starting with '_' are not allowed ({name!r})")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, narrowed: no globals but `range`, only the filters above, no
    calls but to `range` and `loop.cycle`/`loop.changed`, every operator size-checked, and each
    step counted against the render's budget. Unsafe access raises instead of printing nothing."""

    intercepted_binops = frozenset(_BINOPS)
    herald_iter = staticmethod(_ticking_iter)
    herald_concat = staticmethod(_concat)
    herald_literal = staticmethod(_checked_literal)

    def __init__(self, undefined: type[Undefined]) -> None:
        super().__init__(
            undefined=undefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            optimized=False,  # the optimizer would evaluate user expressions at compile time
            finalize=_finalize,
        )
        self.globals.clear()
        self.globals["range"] = _range
        self.filters.clear()
        self.filters.update(_FILTERS)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        _refuse_private(attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        if isinstance(argument, str):
            _refuse_private(argument)
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(f"access to {attribute!r} of a {type(obj).__name__} is not allowed")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        return _binop(operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        if not (isinstance(obj, Undefined) or _callable(obj)):
            name = getattr(obj, "__name__", type(obj).__name__)
            raise SecurityError(f"calling {name!r} is not allowed in templates")
        return context.call(obj, *args, **kwargs)


def _callable(obj: Any) -> bool:
    if any(obj is helper for helper in _HELPERS):
        return True
    owner = getattr(obj, "__self__", None)
    return isinstance(owner, LoopContext) and getattr(obj, "__name__", "") in ("cycle", "changed")


# --- Compiling -----------------------------------------------------------------------------------

_NODE_NAMES = """Template Output TemplateData If For Assign With Name Const Getattr Getitem Slice
    Filter Test CondExpr Compare Operand And Or Not Neg Pos Add Sub Mul Div FloorDiv Mod Pow
    Concat List Tuple Dict Pair Keyword Call"""
_ALLOWED_NODES = frozenset(getattr(nodes, name) for name in _NODE_NAMES.split())
_TAG_NAMES = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.AssignBlock: "a block {% set %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.NSRef: "namespace assignment",
}


def _problem(node: nodes.Node) -> str | None:
    """Why `node` may not appear in a template, or None. Checked before anything runs, so a
    refused construct is reported even in a branch the sample never takes."""
    if type(node) not in _ALLOWED_NODES:
        return f"{_TAG_NAMES.get(type(node), type(node).__name__)} is not allowed in templates"
    if isinstance(node, nodes.For) and node.recursive:
        return "recursive loops are not allowed in templates"
    # Jinja only reports an unknown filter or test when it runs; report it even in untaken branches.
    if isinstance(node, nodes.Filter) and node.name not in _FILTERS:
        return f"no filter named {node.name!r}"
    if isinstance(node, nodes.Test) and node.name not in TESTS:
        return f"no test named {node.name!r}"
    name = node.attr if isinstance(node, nodes.Getattr) else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        name = node.arg.value if isinstance(node.arg.value, str) else None
    if name is not None and name.startswith("_"):
        return f"names starting with '_' are not allowed ({name!r})"
    return None


def _helper_call(helper: str, arg: nodes.Node) -> nodes.Call:
    target = nodes.EnvironmentAttribute(helper, lineno=arg.lineno)
    return nodes.Call(target, [arg], [], None, None, lineno=arg.lineno)


class _Guard(NodeTransformer):
    """Routes loops, `~` and literal lists/tuples/dicts through the sandbox's checked helpers."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _helper_call("herald_iter", node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _helper_call("herald_concat", nodes.List(node.nodes, lineno=node.lineno))

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":  # an assignment target, not a value
            return node
        return _helper_call("herald_literal", node)

    visit_List = visit_Tuple = visit_Dict = _literal


_STRICT = _Sandbox(StrictUndefined)
_LENIENT = _Sandbox(ChainableUndefined)


@lru_cache(maxsize=256)
def compile_template(strict: bool, text: str) -> Template:
    """Parse, check and compile `text`; raises TemplateSyntaxError (with a line) when refused."""
    env = _STRICT if strict else _LENIENT
    tree = env.parse(text)
    for node in tree.find_all(nodes.Node):
        problem = _problem(node)
        if problem:
            raise TemplateSyntaxError(problem, node.lineno or 1)
    _Guard().visit(tree)
    tree.set_environment(env)
    return env.from_string(tree)


@contextlib.contextmanager
def work_budget() -> Iterator[None]:
    """One budget for all rendering inside; an inner scope shares the outer one, so checking a
    whole configuration costs at most TIME_LIMIT of CPU however many templates it holds."""
    if _budget.get() is not None:
        yield
        return
    token = _budget.set(_Budget(STEP_LIMIT, time.thread_time() + TIME_LIMIT))
    try:
        yield
    finally:
        _budget.reset(token)


def run_template(
    template: Template, context: Mapping[str, Any], max_chars: int
) -> tuple[str, bool]:
    """The text, cut to `max_chars` with "…", and whether it was cut. Output is streamed, so
    rendering stops as soon as the limit is passed."""
    stream = cast(Generator[str, None, None], template.generate(dict(context)))
    chunks: list[str] = []
    size = 0
    try:
        with work_budget():
            for chunk in stream:
                chunks.append(chunk)
                size += len(chunk)
                if size > max_chars:
                    return "".join(chunks)[: max_chars - 1] + _ELLIPSIS, True
        return "".join(chunks), False
    finally:
        stream.close()
