"""Request dependencies: the container, the calling principal, paging parameters."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Query, Request

from herald.access.roles import Principal
from herald.api.error_responses import ApiError
from herald.api.schemas.common_schemas import Page

if TYPE_CHECKING:
    from herald.bootstrap import Container

T = TypeVar("T")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "missing API token: send 'Authorization: Bearer <token>'",
        )
    principal = get_container(request).tokens.authenticate(token.strip())
    if principal is None:
        raise ApiError(401, "unauthorized", "the API token is unknown or revoked")
    request.state.principal = principal
    return principal


ContainerDep = Annotated["Container", Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


class Paging:
    """`limit` and an opaque `cursor` (a position returned as `next_cursor` by the last page)."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=200, description="items per page")] = 50,
        cursor: Annotated[
            str | None, Query(max_length=200, description="next_cursor of the previous page")
        ] = None,
    ) -> None:
        self.limit = limit
        self.cursor = decode_cursor(cursor) if cursor else None


# A cursor is the page's last position (an id) and a short checksum of it, base64url-encoded.
# The checksum makes a cursor Herald did not issue (garbled, truncated, hand-made) a clear 400
# instead of a silently empty or wrong page; it is not a secret, only a check.
_CURSOR_SEPARATOR = "~"
_BAD_CURSOR = (
    "cursor is not one this API returned: pass the next_cursor of the previous page unchanged, "
    "or leave cursor out to start from the first page"
)


def _checksum(position: str) -> str:
    digest = hashlib.blake2b(position.encode(), digest_size=6, person=b"herald-cursor")
    return digest.hexdigest()


def encode_cursor(position: str) -> str:
    raw = f"{position}{_CURSOR_SEPARATOR}{_checksum(position)}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The position inside a cursor from `encode_cursor`; `ApiError` 400 for any other text."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_request", _BAD_CURSOR, {"field": "cursor"}) from None
    position, _, checksum = raw.rpartition(_CURSOR_SEPARATOR)
    if not position or not hmac.compare_digest(checksum, _checksum(position)):
        raise ApiError(400, "bad_request", _BAD_CURSOR, {"field": "cursor"})
    return position


PagingDep = Annotated[Paging, Depends()]


def make_page(items: Sequence[T], limit: int, position: Callable[[T], str]) -> Page[T]:
    """A page from `limit + 1` fetched items: the extra one only tells that more exist."""
    shown = list(items[:limit])
    more = len(items) > limit
    return Page[T](items=shown, next_cursor=encode_cursor(position(shown[-1])) if more else None)
