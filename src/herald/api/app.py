"""The FastAPI application. In embedded mode its lifespan also runs the background parts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI

from herald import __version__
from herald.api.errors import install_error_handlers
from herald.api.limits import BodyLimitMiddleware
from herald.api.routes import health, projects, tasks, tokens

API_PREFIX = "/api/v1"
RELEASE_PREFIX = f"{API_PREFIX}/release"

Background = Callable[[], Coroutine[Any, Any, None]]

DESCRIPTION = """Herald runs releases (canary, rolling, blue-green) and announces their key moments
on Feishu, DingTalk, WeCom and HTTP endpoints. Every route except `/healthz` needs
`Authorization: Bearer <token>`. Errors have one shape: `{"error": {"code", "message", "details"}}`.
"""


def create_app(container: object, background: Sequence[Background] = ()) -> FastAPI:
    """Build the app around `container`; `background` coroutines run for the app's lifetime."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        running = [asyncio.create_task(job()) for job in background]
        try:
            yield
        finally:
            for job in running:
                job.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    app = FastAPI(
        title="Herald",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.container = container
    install_error_handlers(app)
    settings = getattr(container, "settings", None)
    max_body = getattr(settings, "max_body_bytes", 1_048_576)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body)
    app.include_router(health.router)
    app.include_router(projects.router, prefix=RELEASE_PREFIX)
    app.include_router(tasks.router, prefix=RELEASE_PREFIX)
    app.include_router(tokens.router, prefix=API_PREFIX)
    return app
