"""Engines and units of work for SQLite and PostgreSQL.

SQLite runs in WAL mode and every writing transaction starts with `BEGIN IMMEDIATE`: a deferred
transaction that later needs the write lock fails with SQLITE_BUSY at once instead of waiting,
which would turn ordinary contention between the API, the engine and the worker into errors.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from herald.domain.errors import StoreConflict, StoreError, StoreUnavailable

__all__ = ["Connection", "Database", "UnitOfWork", "create_engine", "describe_error"]

READONLY = "herald_readonly"

# The database cannot be reached or is busy right now: worth waiting for, never a verdict on the
# data. Every other error of a statement (bad data, a broken constraint) repeats if retried.
_TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def is_transient(exc: BaseException) -> bool:
    """True if `exc` says the database is unavailable for now rather than refusing the work."""
    exc = driver_error(exc)
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _TRANSIENT)


def describe_error(exc: BaseException) -> str:
    """A one-line description of `exc` without SQL text or bound values, for logs and reasons."""
    exc = driver_error(exc)
    cause = exc.orig if isinstance(exc, sa.exc.StatementError) and exc.orig else exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first[:300]}" if first else type(cause).__name__


def driver_error(exc: BaseException) -> BaseException:
    """The database library's own error behind a `StoreError` (else `exc` itself)."""
    if isinstance(exc, StoreError) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Raise the store's own errors for the driver's, so callers never import SQLAlchemy."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise StoreConflict(describe_error(exc), _driver_name(exc)) from exc
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(describe_error(exc), _driver_name(exc)) from exc


def _driver_name(exc: sa.exc.DBAPIError) -> str:
    return type(exc.orig).__name__


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_name(url: str) -> str | None:
    """The database part of `url`: a file path for SQLite, a database name for PostgreSQL."""
    return sa.engine.make_url(url).database


def create_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # hide_parameters: error messages and logs must never carry bound values.
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def _sqlite_engine(url: str) -> Engine:
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's begin hook below issues BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


class UnitOfWork:
    """One transaction: commits when the block ends normally, rolls back otherwise.

    `after_commit` callbacks run only once the commit succeeded (e.g. waking a worker), so
    nothing outside the database ever sees work that was rolled back.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._after: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after.append(callback)

    def execute(self, statement: Any, params: Any = None) -> sa.CursorResult[Any]:
        return self.conn.execute(statement, params)


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite has one writer at a time. Left to SQLite, a writer that finds the lock taken
        # sleeps in growing steps (up to 100 ms each) and, under a steady stream of other
        # writers, can starve for seconds; an in-process lock hands the turn over at once.
        self._writer = threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextlib.contextmanager
    def transaction(self, *, replayable: bool = False) -> Iterator[UnitOfWork]:
        """A write transaction. `replayable` work (the delivery worker's claims and results)
        commits without waiting for PostgreSQL's WAL flush: a database crash may forget the
        last moments of it, which at-least-once delivery absorbs (a lost lease is claimed
        again, a lost result means one resend). Release transitions and their outbox events
        never use it."""
        with _translated(), self._writer, self.engine.connect() as conn, conn.begin():
            if replayable and self.is_postgres:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            uow = UnitOfWork(conn)
            yield uow
        for callback in uow._after:
            callback()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        with _translated(), self.engine.connect() as conn:
            conn = conn.execution_options(**{READONLY: True})
            with conn.begin():
                yield conn

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
