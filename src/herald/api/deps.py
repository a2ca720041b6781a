"""Request dependencies: the container, the calling principal, paging parameters."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Query, Request

from herald.api.errors import ApiError
from herald.api.schemas.common import Page
from herald.domain.access import Principal

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


def encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_request", "cursor is not one this API returned") from None
    if not raw or len(raw) > 150 or not raw.isprintable():
        raise ApiError(400, "bad_request", "cursor is not one this API returned")
    return raw


PagingDep = Annotated[Paging, Depends()]


def make_page(items: Sequence[T], limit: int, position: Callable[[T], str]) -> Page[T]:
    """A page from `limit + 1` fetched items: the extra one only tells that more exist."""
    shown = list(items[:limit])
    more = len(items) > limit
    return Page[T](items=shown, next_cursor=encode_cursor(position(shown[-1])) if more else None)
