"""The hosts of a release task: their statuses and results.

A host moves pending → running → success | failed while its task runs. When the task ends
without deploying every host (stopped, or failed), each host still on its way gets a final
status too, so nothing shows as deploying once nobody deploys it:

- `cancelled`: the host was being deployed when the task ended; its deploy was abandoned and
  its outcome is unknown (the engine kills a command it started);
- `skipped`: the host was never started.

Final statuses never change again: a late result for a cancelled host is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from herald.domain.storable_text import storable


class HostStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


# What a deploy reports, and every status a host keeps for good.
FINISHED_HOST = frozenset({HostStatus.SUCCESS, HostStatus.FAILED})
FINAL_HOST = FINISHED_HOST | {HostStatus.CANCELLED, HostStatus.SKIPPED}


def settled(status: HostStatus) -> HostStatus:
    """The final status of a host that was in `status` when its task ended."""
    if status is HostStatus.RUNNING:
        return HostStatus.CANCELLED
    if status is HostStatus.PENDING:
        return HostStatus.SKIPPED
    return status


def settled_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Host counts per status of an ended task, as `settled` reads them. Tasks that ended before
    hosts had final statuses still have running and pending hosts stored; they read as settled."""
    out: dict[str, int] = {}
    for status, n in counts.items():
        final = settled(HostStatus(status)).value
        out[final] = out.get(final, 0) + n
    return out


def tally(counts: Mapping[str, int]) -> dict[str, int]:
    """`counts` per host status with every status present (zero if absent) and a `total`."""
    values = {s.value: counts.get(s.value, 0) for s in HostStatus}
    return {"total": sum(values.values()), **values}


@dataclass
class HostResult:
    host: str
    status: HostStatus = HostStatus.PENDING
    exit_code: int | None = None
    output: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def finish(
        self, status: HostStatus, now: dt.datetime, exit_code: int | None, output: str
    ) -> None:
        """Record the deploy's outcome; `output` (untrusted) is made storable."""
        self.status = status
        self.exit_code = exit_code
        self.output = storable(output)
        self.started_at = self.started_at or now
        self.finished_at = now

    def settle(self, now: dt.datetime) -> None:
        """Give an unfinished host its final status because its task ended at `now`."""
        if self.status is HostStatus.RUNNING:
            self.finished_at = now  # a skipped host never started, so it has no end either
        self.status = settled(self.status)
