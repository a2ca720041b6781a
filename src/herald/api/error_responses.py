"""One JSON error shape for every 4xx/5xx: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from herald.access.roles import Forbidden
from herald.domain.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    StoreConflict,
    StoreUnavailable,
)
from herald.domain.shapes import validation_message
from herald.security.encryption import SecretDecryptError

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFound: 404,
    IllegalTransition: 409,
    Conflict: 409,
    InvalidInput: 422,
    Forbidden: 403,
}
CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """An error raised by the HTTP layer itself (authentication, paging, body limits)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _status_for(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def _validation_details(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        details.append(
            {"field": ".".join(loc), "message": validation_message(err), "type": err.get("type")}
        )
    if details and details[0]["type"] == "json_invalid":
        return "request body is not valid JSON: " + details[0]["message"], details
    first = details[0] if details else {"field": "", "message": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(details) - 1} more problem(s))" if len(details) > 1 else ""
    return f"{where}{first['message']}{more}", details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(_status_for(exc), exc.code, exc.message, exc.details)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _validation_details(exc)
        status = 400 if details and details[0]["type"] == "json_invalid" else 422
        return error_response(status, CODE_BY_STATUS[status], message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODE_BY_STATUS.get(exc.status_code, "error")
        headers = dict(exc.headers or {})
        details = None
        if exc.status_code == 405:
            allowed: list[str] = request.app.state.path_methods.allowed(request.url.path)
            headers["Allow"] = ", ".join(allowed)
            details = {"allowed": allowed}
        return error_response(exc.status_code, code, str(exc.detail), details, headers or None)

    @app.exception_handler(StoreConflict)
    async def integrity_error(_: Request, exc: StoreConflict) -> JSONResponse:
        log.info("integrity error answered as 409: %s", exc.driver_error)
        return error_response(
            409, "conflict", "the change clashes with stored data; reload and retry"
        )

    @app.exception_handler(SecretDecryptError)
    async def undecryptable(_: Request, exc: SecretDecryptError) -> JSONResponse:
        log.error("stored secrets cannot be decrypted with the configured keys")
        return error_response(
            503,
            "unavailable",
            "stored secrets cannot be decrypted with the configured keys; the operator must "
            "check HERALD_SECRET_KEY and HERALD_OLD_SECRET_KEYS",
        )

    @app.exception_handler(StoreUnavailable)
    async def db_unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("database error: %s", exc.driver_error)
        return error_response(503, "unavailable", "the database is unavailable; retry shortly")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; the server log has details")
