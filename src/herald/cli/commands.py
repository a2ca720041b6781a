"""`herald` command line: run modes, migrations, tokens, fake platforms."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from herald.access.roles import Role
from herald.api.app import create_app
from herald.bootstrap import Container
from herald.domain.errors import DomainError
from herald.observability.log_setup import setup_logging
from herald.runtime.settings import Settings, load_settings, unknown_environment
from herald.runtime.tuning import tune_garbage_collector
from herald.security.encryption import InsecureKeyFileError
from herald.security.keys import MissingSecretKey
from herald.store import migrate

app = typer.Typer(help="Herald: releases with first-class callbacks.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tokens_app, name="tokens")
secrets_app = typer.Typer(help="Encryption of stored secrets.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")

HostOpt = Annotated[str | None, typer.Option(help="listen address (default HERALD_HOST)")]
PortOpt = Annotated[int | None, typer.Option(help="listen port (default HERALD_PORT)")]


def _settings(host: str | None = None, port: int | None = None) -> Settings:
    try:
        settings = load_settings()
    except (ValidationError, ValueError, OSError) as exc:
        typer.echo(f"herald: configuration error: {_config_problem(exc)}", err=True)
        raise typer.Exit(2) from None
    changes = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.with_overrides(**changes) if changes else settings
    setup_logging(settings.log_level, settings.log_format)
    for name in unknown_environment(os.environ):
        logging.getLogger("herald").warning("%s is not a Herald setting; ignored", name)
    return settings


def _config_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
    return str(exc)


def _require_schema(settings: Settings) -> None:
    heads = migrate.current_heads(settings.database_url)
    wanted = migrate.code_heads()
    if not heads:
        typer.echo("the database has no Herald schema; run `herald db upgrade` first", err=True)
        raise typer.Exit(2)
    if heads != wanted:
        typer.echo(
            f"the database schema is at {', '.join(sorted(heads))} but this Herald needs "
            f"{', '.join(sorted(wanted))}; run `herald db upgrade` first",
            err=True,
        )
        raise typer.Exit(2)


def _print_admin_token(token: str) -> None:
    bar = "=" * 72
    typer.echo(
        f"{bar}\nGenerated admin API token (shown once; it is stored only as a hash):\n\n"
        f"    {token}\n\nUse it as 'Authorization: Bearer <token>'. Set HERALD_ADMIN_TOKEN to "
        f"choose your own.\n{bar}"
    )


def _build(settings: Settings, *, embedded: bool) -> Container:
    try:
        container = Container.build(settings, embedded=embedded)
    except (MissingSecretKey, InsecureKeyFileError) as exc:
        typer.echo(f"herald: {exc}", err=True)
        raise typer.Exit(2) from None
    for notice in container.notices:
        typer.echo(notice, err=True)
    return container


def _serve(container: Container, *, embedded: bool) -> None:
    background = [container.runner().run, container.worker().run] if embedded else []
    api = create_app(container, background=background)
    settings = container.settings
    config = uvicorn.Config(
        api, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    tune_garbage_collector()
    asyncio.run(_serve_until_signalled(uvicorn.Server(config)))


class _QuietServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after shutting down, which would end the process before
    Herald closes its database; Herald handles the signals itself instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve_until_signalled(server: uvicorn.Server) -> None:
    quiet = _QuietServer(server.config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(quiet, "should_exit", True))
    await quiet.serve()


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Embedded mode: migrate, then run API, release engine and delivery worker in one process."""
    settings = _settings(host, port)
    migrate.upgrade(settings.database_url)
    container = _build(settings, embedded=True)
    token = container.tokens.ensure_bootstrap_admin(
        settings.admin_token.get_secret_value() if settings.admin_token else None
    )
    if token:
        _print_admin_token(token)
    typer.echo(f"Herald listening on {settings.base_url} (API docs at {settings.base_url}/docs)")
    try:
        _serve(container, embedded=True)
    finally:
        container.close()


@app.command("api")
def api_command(host: HostOpt = None, port: PortOpt = None) -> None:
    """Scaled-out mode: one stateless API replica (run `herald worker` beside it)."""
    settings = _settings(host, port)
    _require_schema(settings)
    container = _build(settings, embedded=False)
    if settings.admin_token:
        container.tokens.ensure_bootstrap_admin(settings.admin_token.get_secret_value())
    try:
        _serve(container, embedded=False)
    finally:
        container.close()


@app.command()
def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on this port")
    ] = None,
) -> None:
    """Scaled-out mode: release engine and delivery worker, no HTTP API."""
    settings = _settings()
    _require_schema(settings)
    container = _build(settings, embedded=False)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.host, registry=container.metrics.registry)

    async def run() -> None:
        tune_garbage_collector()
        loop, main = asyncio.get_running_loop(), asyncio.current_task()
        assert main is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, main.cancel)  # stop cleanly: finish sends, free leases
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(container.runner().run(), container.worker().run())

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        container.close()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to `revision` (default: the newest)."""
    settings = _settings()
    migrate.upgrade(settings.database_url, revision)
    typer.echo(f"database at {', '.join(sorted(migrate.current_heads(settings.database_url)))}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    settings = _settings()
    heads = migrate.current_heads(settings.database_url)
    typer.echo(", ".join(sorted(heads)) or "no schema")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="who or what uses the token")],
    role: Annotated[Role, typer.Option(help="admin, maintainer or viewer")],
    project: Annotated[list[str] | None, typer.Option(help="project id (repeatable)")] = None,
) -> None:
    """Create an API token and print it (once)."""
    container = _build(_settings(), embedded=True)
    try:
        issued = container.tokens.create(name, role, project or [], None)
    finally:
        container.close()
    typer.echo(json.dumps({"id": issued.id, "token": issued.token}))


@tokens_app.command("list")
def tokens_list(include_revoked: bool = False) -> None:
    """List tokens (never the tokens themselves)."""
    from herald.access.token_service import describe

    container = _build(_settings(), embedded=True)
    try:
        for row in container.tokens.list(include_revoked):
            typer.echo(json.dumps(describe(row), ensure_ascii=False))
    finally:
        container.close()


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by id."""
    container = _build(_settings(), embedded=True)
    try:
        container.tokens.revoke(token_id, None)
    except DomainError as exc:  # unknown token, or the last active admin token
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        container.close()
    typer.echo(f"revoked {token_id}")


@secrets_app.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new random key for HERALD_SECRET_KEY."""
    from herald.security.encryption import generate_key

    typer.echo(generate_key())


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret under HERALD_SECRET_KEY (old keys in HERALD_OLD_SECRET_KEYS)."""
    from herald.security.encryption import SecretDecryptError
    from herald.security.key_rotation import rotate_secrets

    container = _build(_settings(), embedded=True)
    try:
        report = rotate_secrets(container.db, container.keyring, container.clock)
    except SecretDecryptError as exc:
        typer.echo(
            f"herald: nothing rotated: {exc}; is every old key in HERALD_OLD_SECRET_KEYS?", err=True
        )
        raise typer.Exit(1) from None
    finally:
        container.close()
    typer.echo(
        f"re-encrypted {report.channels} channel(s), {report.tokens} cached token(s) and "
        f"{report.inbound} inbound source secret(s); "
        f"{report.already_current} already under the current key"
    )


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="API port on 127.0.0.1")] = 8080,
    database: Annotated[
        Path, typer.Option(help="SQLite file, replaced on every run (only a demo's own)")
    ] = Path("herald-demo.db"),
    exit_when_done: Annotated[
        bool, typer.Option("--exit", help="stop once the release's notifications are final")
    ] = False,
) -> None:
    """Run a canary release end to end against local fake Feishu/DingTalk/WeCom receivers."""
    from herald.cli.demo import DemoError, DemoOptions, run_demo

    try:
        code = run_demo(_settings(), DemoOptions(port, database, exit_when_done), typer.echo)
    except DemoError as exc:
        typer.echo(f"herald demo: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command("fake-platforms")
def fake_platforms(
    host: str = "127.0.0.1",
    port: int = 9900,
    config: Annotated[Path | None, typer.Option(help="JSON file registering bots")] = None,
) -> None:
    """Run the fake Feishu/DingTalk/WeCom servers (for tests, demos and benchmarks)."""
    from herald.fakeplatforms.server import serve as serve_fakes

    setup_logging()
    registrations = json.loads(config.read_text()) if config else None
    serve_fakes(host, port, registrations)


_FORWARD = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("release", context_settings=_FORWARD, add_help_option=False)
def release_command(ctx: typer.Context) -> None:
    """Announce a release your pipeline runs: start, step, promote, report, finish."""
    from herald.cli.release_commands import client_main

    client_main(["release", *ctx.args])


@app.command("notify", context_settings=_FORWARD, add_help_option=False)
def notify_command(ctx: typer.Context) -> None:
    """One event for a release Herald did not run."""
    from herald.cli.release_commands import client_main

    client_main(["notify", *ctx.args])


def main() -> None:
    app()


if __name__ == "__main__":
    main()
