"""Secrets at rest: authenticated encryption with key rotation, and keyed fingerprints.

Stored secrets (webhook URLs carrying tokens, signing secrets) are Fernet tokens (AES-128-CBC +
HMAC-SHA256, via ``cryptography``). A ``KeyRing`` encrypts under the current key and decrypts
under the current or any old key, so rotation is: add the new key as current, keep the old one
in ``old``, ``rotate`` every stored token, then drop the old key. Masking and redaction of what
people see live in ``herald.security.redaction``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from secrets import token_hex
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "InsecureKeyFileError",
    "KeyRing",
    "SecretDecryptError",
    "fingerprint",
    "generate_key",
    "load_or_create_key_file",
]

MIN_PASSPHRASE_LENGTH = 32
_HKDF_SALT = b"herald secrets v1"
_HKDF_INFO = b"herald secrets v1: fernet key"


class SecretDecryptError(Exception):
    """A stored secret could not be decrypted with any configured key."""


class InsecureKeyFileError(PermissionError):
    """The key file is accessible to users other than its owner."""


def _as_fernet_key(material: str) -> bytes:
    """Turn a configured key into a Fernet key.

    A Fernet key (urlsafe base64 of 32 bytes) is used as is; any other string
    of at least 32 characters is stretched with HKDF-SHA256. Surrounding
    whitespace is ignored, so keys read from files may end in a newline.
    """
    text = material.strip()
    if len(text) == 44:
        try:
            raw = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if len(raw) == 32:
            return text.encode("ascii")
    if len(text) < MIN_PASSPHRASE_LENGTH:
        raise ValueError(
            f"secret key is too short ({len(text)} characters): use a Fernet key "
            f"(see generate_key) or a random string of at least {MIN_PASSPHRASE_LENGTH} characters"
        )
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(text.encode("utf-8")))


def _token_bytes(token: str) -> bytes:
    try:
        return token.encode("ascii")
    except UnicodeEncodeError:
        raise SecretDecryptError("stored secret is not a valid token") from None


class KeyRing:
    """Encrypts under the current key; decrypts under the current or any old key."""

    def __init__(self, current: Fernet, old: Sequence[Fernet] = ()) -> None:
        self._current = current
        self._all = MultiFernet([current, *old])

    @classmethod
    def from_settings(cls, current: str, old: Sequence[str] = ()) -> KeyRing:
        """Build a ring from configured key strings (see ``_as_fernet_key``).

        A single string passed as ``old`` is one key, not a list of characters.
        Raises ``ValueError`` for keys that are too short.
        """
        old_keys = [old] if isinstance(old, str) else list(old)
        return cls(
            Fernet(_as_fernet_key(current)),
            [Fernet(_as_fernet_key(k)) for k in old_keys],
        )

    def encrypt_text(self, text: str) -> str:
        """Encrypt ``text`` under the current key; returns an ASCII token."""
        return self._current.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt_text(self, token: str) -> str:
        """Decrypt a token made by ``encrypt_text``.

        Raises ``SecretDecryptError`` if no configured key authenticates it
        (wrong key, corrupted or truncated token); never returns garbage.
        """
        try:
            plain = self._all.decrypt(_token_bytes(token))
        except InvalidToken:
            raise SecretDecryptError(
                "cannot decrypt stored secret: it was encrypted with a key that is not "
                "configured (current or old), or the stored value is corrupted"
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretDecryptError("decrypted secret is not UTF-8 text") from None

    def encrypt_json(self, obj: Any) -> str:
        """Encrypt the JSON serialisation of ``obj`` (``TypeError`` if not serialisable)."""
        return self.encrypt_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    def decrypt_json(self, token: str) -> Any:
        """Decrypt a token made by ``encrypt_json`` and parse it."""
        text = self.decrypt_text(token)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise SecretDecryptError("decrypted secret is not JSON") from None

    def needs_rotation(self, token: str) -> bool:
        """Whether ``token`` is readable but not encrypted under the current key.

        Fernet tokens do not name their key, so this tries the current key
        alone. Raises ``SecretDecryptError`` if no configured key can read it.
        """
        raw = _token_bytes(token)
        try:
            self._current.decrypt(raw)
        except InvalidToken:
            self.decrypt_text(token)
            return True
        return False

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the current key (keeps its timestamp)."""
        try:
            return self._all.rotate(_token_bytes(token)).decode("ascii")
        except InvalidToken:
            raise SecretDecryptError(
                "cannot rotate stored secret: no configured key decrypts it"
            ) from None


def generate_key() -> str:
    """Return a new random Fernet key (urlsafe base64 of 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


def _read_key_file(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise InsecureKeyFileError(
                f"refusing to use key file {path}: mode {mode:04o} lets group or others "
                f"access it; run 'chmod 600 {path}'"
            )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        raise ValueError(f"key file {path} is empty")
    _as_fernet_key(text)
    return text


def _create_key_file(path: Path, key: str) -> bool:
    """Atomically create ``path`` holding ``key`` with mode 0600.

    The key is written to a private temporary file first and then hard-linked
    into place, so no reader ever sees a partial file and a concurrent creator
    loses cleanly (``False``) instead of overwriting.
    """
    tmp = path.with_name(f".{path.name}.{token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        # The mode passed to open() is filtered by the umask; set it explicitly.
        os.fchmod(fd, 0o600)
        os.write(fd, f"{key}\n".encode("ascii"))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
    return True


def load_or_create_key_file(path: Path) -> tuple[str, bool]:
    """Return ``(key, created)`` for the key file at ``path``.

    A missing file is created with a new key and mode 0600. An existing file
    must be accessible only by its owner (``InsecureKeyFileError`` otherwise)
    and hold a usable key (``ValueError`` otherwise).
    """
    try:
        return _read_key_file(path), False
    except FileNotFoundError:
        pass
    key = generate_key()
    if _create_key_file(path, key):
        return key, True
    return _read_key_file(path), False


def fingerprint(secret: str, key: bytes) -> str:
    """Return a keyed, non-reversible 32-hex-character id for ``secret``.

    HMAC-SHA256 under ``key``: equal secrets give equal fingerprints, but
    without the key nobody can test guesses (webhook URLs are guessable).
    """
    if not key:
        raise ValueError("fingerprint key must not be empty")
    return hmac.new(key, secret.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
