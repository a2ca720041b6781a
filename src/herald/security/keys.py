"""Where the encryption key comes from: `HERALD_SECRET_KEY`, or in embedded mode a key file
beside the SQLite database, generated on first start (mode 0600). Outside embedded mode Herald
refuses to start without a key, because a generated key on one replica would lock out the rest."""

from __future__ import annotations

from pathlib import Path

from herald.runtime.settings import Settings
from herald.security.encryption import KeyRing, load_or_create_key_file
from herald.store.db import database_name


class MissingSecretKey(RuntimeError):
    pass


def key_file_for(database_url: str) -> Path:
    database = database_name(database_url) or "herald.db"
    return Path(database).with_suffix(".key") if database != ":memory:" else Path("herald.key")


def build_keyring(settings: Settings, *, embedded: bool) -> tuple[KeyRing, str | None]:
    """The key ring, and a notice to show the operator when a key file was created."""
    old = [k.get_secret_value() for k in settings.old_secret_keys]
    if settings.secret_key is not None:
        try:
            return KeyRing.from_settings(settings.secret_key.get_secret_value(), old), None
        except ValueError as exc:
            raise MissingSecretKey(f"HERALD_SECRET_KEY / HERALD_OLD_SECRET_KEYS: {exc}") from None
    if not (embedded and settings.is_sqlite):
        raise MissingSecretKey(
            "HERALD_SECRET_KEY is required outside embedded mode: every replica must share it. "
            "Generate one with `herald secrets generate-key`."
        )
    path = key_file_for(settings.database_url)
    key, created = load_or_create_key_file(path)
    notice = (
        f"generated an encryption key for stored secrets in {path} (mode 0600); back it up with "
        "the database, or set HERALD_SECRET_KEY"
        if created
        else None
    )
    return KeyRing.from_settings(key, old), notice
