"""Liveness and readiness; no token needed."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from herald import __version__
from herald.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Health: the process runs and the database answers")
def healthz(container: ContainerDep) -> JSONResponse:
    try:
        with container.db.read() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception:
        body = {"status": "unavailable", "database": "unreachable", "version": __version__}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "version": __version__})
