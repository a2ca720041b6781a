"""The FastAPI application. In embedded mode its lifespan also runs the background parts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI

from herald import __version__
from herald.api.body_limit import BodyLimitMiddleware
from herald.api.error_responses import install_error_handlers
from herald.api.idempotent_requests import IdempotencyMiddleware
from herald.api.methods import PathMethods
from herald.api.routes import (
    audit,
    callbacks,
    channel_types,
    destinations,
    external,
    health,
    inbound,
    muting,
    org_rules,
    projects,
    tasks,
    tokens,
)
from herald.api.routes import callback_history as history
from herald.api.routes import prometheus as metrics
from herald.api.storable import refuse_unstorable_text
from herald.web import router as web_router

if TYPE_CHECKING:
    from herald.bootstrap import Container

API_PREFIX = "/api/v1"
RELEASE_PREFIX = f"{API_PREFIX}/release"

Background = Callable[[], Coroutine[Any, Any, None]]

DESCRIPTION = """Herald runs releases (canary, rolling, blue-green) and announces their key moments
on Feishu, DingTalk, WeCom and HTTP endpoints. Every route except `/healthz` needs
`Authorization: Bearer <token>`. Errors have one shape: `{"error": {"code", "message", "details"}}`.
"""


def create_app(container: Container, background: Sequence[Background] = ()) -> FastAPI:
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
            await container.test_sender.aclose()

    app = FastAPI(
        title="Herald",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable_text)],
    )
    app.state.container = container
    install_error_handlers(app)
    # Added first, so the body limit (outside it) applies before a body is buffered for a key.
    app.add_middleware(IdempotencyMiddleware, service=container.idempotency)
    app.add_middleware(BodyLimitMiddleware, max_bytes=container.settings.max_body_bytes)
    routers = [
        ("", health.router),
        ("", metrics.router),
        (RELEASE_PREFIX, projects.router),
        (RELEASE_PREFIX, tasks.router),
        # Static /callbacks/... paths first, so /callbacks/history is never read as a config id.
        (RELEASE_PREFIX, history.router),
        (RELEASE_PREFIX, muting.history_router),
        (RELEASE_PREFIX, callbacks.router),
        (API_PREFIX, external.router),
        (RELEASE_PREFIX, inbound.router),
        (API_PREFIX, inbound.receiver),
        (RELEASE_PREFIX, destinations.router),
        (RELEASE_PREFIX, org_rules.router),
        (API_PREFIX, tokens.router),
        (API_PREFIX, audit.router),
        (API_PREFIX, muting.router),
        (API_PREFIX, channel_types.router),
        ("", web_router),  # the web UI at /ui (not in the OpenAPI document)
    ]
    for prefix, router in routers:
        app.include_router(router, prefix=prefix)
    app.state.path_methods = PathMethods(routers)
    return app
