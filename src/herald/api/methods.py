"""Which HTTP methods the app serves at a path, for the `Allow` header of a 405.

Herald registers one route per method and path, and Starlette answers 405 with the methods of
the first route whose path matches, so a 405 named only some of a path's methods. This index
covers every route of every router the app includes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import compile_path


class PathMethods:
    def __init__(self, routers: Iterable[tuple[str, APIRouter]]) -> None:
        """`routers`: each router with the prefix it is included under."""
        self._routes: list[tuple[re.Pattern[str], frozenset[str]]] = []
        for prefix, router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute):
                    regex, _, _ = compile_path(prefix + route.path)
                    self._routes.append((regex, frozenset(route.methods or ())))

    def allowed(self, path: str) -> list[str]:
        """Every method some route serves at `path`, sorted."""
        methods: set[str] = set()
        for regex, served in self._routes:
            if regex.match(path):
                methods |= served
        return sorted(methods)
