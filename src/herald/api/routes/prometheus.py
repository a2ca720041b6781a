"""Prometheus metrics of this process, plus store-wide gauges."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from herald.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (no token, like /healthz)",
    # Documented as what it is: the Prometheus text format, not JSON.
    response_class=PlainTextResponse,
)
def metrics(c: ContainerDep) -> Response:
    return Response(generate_latest(c.metrics.registry), media_type=CONTENT_TYPE_LATEST)
