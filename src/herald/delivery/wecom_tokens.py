"""Access tokens of channels with token auth (`channels.capabilities.TokenAuth`: WeCom
applications): cached per app for every worker, refreshed once when the platform rejects one.

Tokens live in process memory and, encrypted, in the store so other workers reuse them instead
of calling gettoken (WeCom throttles and may block apps that fetch tokens too often). A refresh
runs under a per-app lock: concurrent deliveries wait for one fetch instead of racing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from herald.channels.base import Outcome, OutcomeKind
from herald.channels.capabilities import TokenAuth
from herald.channels.config_base import ChannelConfig
from herald.delivery.http_client import HttpClient, HttpResult, channel_egress
from herald.runtime.clock import Clock
from herald.security.encryption import KeyRing, fingerprint
from herald.store import wecom_token_repo as repo
from herald.store.db import Database

EARLY_REFRESH = 300.0  # seconds before expiry a token counts as stale
TOKEN_KEY = b"herald wecom token key v1"


@dataclass(frozen=True)
class TokenFailure:
    """Why no token came: the outcome to record, and `transport` when gettoken got no HTTP
    answer (refused by the egress guard, unreachable) so the attempt is judged like a send."""

    outcome: Outcome
    transport: HttpResult | None = None


class WeComTokens:
    def __init__(
        self, db: Database, keyring: KeyRing, http: HttpClient, clock: Clock, timeout: float = 10.0
    ) -> None:
        self.timeout = timeout
        self.db = db
        self.keyring = keyring
        self.http = http
        self.clock = clock
        self._memory: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, sender: TokenAuth, config: ChannelConfig) -> str | TokenFailure:
        """A valid token for the app in `config`, or why gettoken failed."""
        key = fingerprint(sender.token_cache_key(config), TOKEN_KEY)
        fresh = self._fresh(key)
        if fresh:
            return fresh
        async with self._locks.setdefault(key, asyncio.Lock()):
            fresh = self._fresh(key) or await asyncio.to_thread(self._load, key)
            if fresh:
                return fresh
            return await self._fetch(key, sender, config)

    async def invalidate(self, sender: TokenAuth, config: ChannelConfig, token: str) -> None:
        key = fingerprint(sender.token_cache_key(config), TOKEN_KEY)
        cached = self._memory.get(key)
        if cached and cached[0] == token:
            del self._memory[key]
        await asyncio.to_thread(self._forget, key)

    def _fresh(self, key: str) -> str | None:
        cached = self._memory.get(key)
        if cached and cached[1] - EARLY_REFRESH > self.clock.time():
            return cached[0]
        return None

    def _load(self, key: str) -> str | None:
        with self.db.read() as conn:
            row = repo.load_token(conn, key)
        if row is None or row.expires_at - EARLY_REFRESH <= self.clock.time():
            return None
        token = self.keyring.decrypt_text(row.secret_token)
        self._memory[key] = (token, row.expires_at)
        return token

    def _forget(self, key: str) -> None:
        with self.db.transaction() as uow:
            repo.forget_token(uow.conn, key)

    async def _fetch(
        self, key: str, sender: TokenAuth, config: ChannelConfig
    ) -> str | TokenFailure:
        request = sender.token_request(config, timeout=self.timeout)
        result = await self.http.request(
            request.method,
            request.url,
            request.headers,
            None,
            request.timeout,
            channel_egress(config),
        )
        if result.status is None:
            kind = OutcomeKind.PERMANENT if result.blocked else OutcomeKind.RETRYABLE
            return TokenFailure(Outcome(kind, None, f"gettoken failed: {result.error}"), result)
        parsed = sender.parse_token(result.status, result.body)
        if isinstance(parsed, Outcome):
            return TokenFailure(parsed)
        token, expires_in = parsed
        expires_at = self.clock.time() + float(expires_in)
        self._memory[key] = (token, expires_at)
        await asyncio.to_thread(self._store, key, token, expires_at)
        return str(token)

    def _store(self, key: str, token: str, expires_at: float) -> None:
        cached = repo.CachedToken(self.keyring.encrypt_text(token), expires_at)
        now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        with self.db.transaction() as uow:
            repo.save_token(uow.conn, key, cached, now)
