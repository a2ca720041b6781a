"""The Celery sender a Python team would write: one task that POSTs the JSON with requests.

Broker: Redis on 127.0.0.1 (`HERALD_BENCH_REDIS`); results are not stored. The harness starts
`celery -A bench.celery_app worker` itself, on a queue of its own, and stops it afterwards.
"""

from __future__ import annotations

import os

import requests
from celery import Celery

BROKER = os.environ.get("HERALD_BENCH_REDIS", "redis://127.0.0.1:6379/0")
app = Celery("herald_bench", broker=BROKER)
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False)
_session = requests.Session()


@app.task(name="bench.post", acks_late=True)  # type: ignore[untyped-decorator]
def post(url: str, body: str, request_id: str) -> int:
    """POST one notification; a failed request is retried by Celery (3 times, 1 s apart)."""
    response = _session.post(
        url,
        data=body.encode(),
        headers={"content-type": "application/json", "webhook-id": request_id},
        timeout=10,
    )
    return int(response.status_code)
