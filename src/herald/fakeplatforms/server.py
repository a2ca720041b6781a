"""The single aiohttp application serving every fake, and the blocking `serve` entry point."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from herald.fakeplatforms.control import apply_config, control_routes
from herald.fakeplatforms.hub import FakePlatforms

# Platform caps are ~20 KB; the custom endpoint accepts larger bodies so size-related engine
# tests see the fake's answer rather than aiohttp's 413.
MAX_BODY_BYTES = 8 * 1024 * 1024
# Cancelling handlers whose client went away lets a `hang` end with the test, and a short
# shutdown timeout keeps teardown from waiting on one.
SHUTDOWN_TIMEOUT_S = 0.5


def build_app(fake: FakePlatforms) -> web.Application:
    """Feishu, DingTalk, WeCom, custom endpoint and `/_fake/` routes on one application."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.add_routes(fake.routes())
    app.add_routes(control_routes(fake))
    return app


async def start_server(fake: FakePlatforms, host: str, port: int) -> web.AppRunner:
    """Start serving `fake` on host:port (0 = ephemeral), bind its URLs, return the runner;
    the caller must `await runner.cleanup()`."""
    runner = web.AppRunner(
        build_app(fake),
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        access_log=None,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    fake.bind(f"http://{shown}:{bound_port}")
    return runner


def serve(host: str, port: int, config: dict[str, Any] | None) -> None:
    """Run the fakes until interrupted (Ctrl-C / SIGTERM). Blocking.

    `config` is a `FakeConfig` document (already loaded from JSON or TOML) whose bots, apps,
    keys, endpoints and limits are registered before the first request.
    """
    fake = FakePlatforms()
    apply_config(fake, config)
    web.run_app(
        build_app(fake),
        host=host,
        port=port,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
