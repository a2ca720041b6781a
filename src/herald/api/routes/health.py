"""Liveness and readiness; no token needed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from herald import __version__
from herald.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Health: the database answers and the background loops (if any) keep cycling",
    responses={503: {"description": "the database is unreachable or a background loop is stuck"}},
)
def healthz(container: ContainerDep) -> JSONResponse:
    loops = container.beats.report()
    body: dict[str, object] = {"status": "ok", "database": "ok", "version": __version__}
    body["loops"] = loops
    try:
        container.db.ping()
    except Exception:
        body.update(status="unavailable", database="unreachable")
        return JSONResponse(body, status_code=503)
    if not all(loop["ok"] for loop in loops.values()):
        body["status"] = "degraded"
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
