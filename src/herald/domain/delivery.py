"""Deliveries: their states, kinds and attempt outcomes, and the one rule deciding what happens
to a delivery after an attempt.

A delivery is `pending` until it ends `success` or `failed`; nothing leaves a final state on
its own (a person's resend makes it pending once more). A pending delivery that a mute window
covers when it would be sent is held as `muted` until a person decides: released, it is
pending again and sent as usual; dropped, it ends `dropped` (`decide_held`). The names are
`StrEnum`s whose values are what the store and the API have always used, so stored rows and
JSON do not change.

    pending ──attempt──▶ success | failed | pending (retry)     (`next_state`)
    pending ──mute window──▶ muted ──release──▶ pending
                                   ──drop──▶ dropped
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from herald.domain.errors import Conflict
from herald.domain.retry import DEFAULT_SCHEDULE, RetryPolicy


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    MUTED = "muted"  # held by a mute window until a person releases or drops it
    DROPPED = "dropped"  # a person chose not to send a muted delivery


class HeldDecision(StrEnum):
    """What a person decides for a muted delivery."""

    RELEASE = "release"  # send it now, as an ordinary delivery from then on
    DROP = "drop"  # never send it (it stays in the history as dropped)


# Statuses no worker moves a delivery out of; only a person's resend does.
FINAL = frozenset({DeliveryStatus.SUCCESS, DeliveryStatus.FAILED, DeliveryStatus.DROPPED})


class DeliveryKind(StrEnum):
    EVENT = "event"  # one release event to one channel
    DIGEST = "digest"  # a target's backlog merged into one message (批量回调)
    TEST = "test"  # a sample event a person sent to check a config; tried once


class Trigger(StrEnum):
    """Why the next (or a recorded) attempt happens."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"  # a person asked for a resend
    TEST = "test"


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    PARTIAL = "partial"  # accepted, some recipients refused: counts as delivered
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    RATE_LIMITED = "rate_limited"
    BLOCKED = "blocked"  # the egress guard refused the address: retrying cannot help
    CANCELLED = "cancelled"  # the config or channel went away before it was sent


class CircuitSignal(StrEnum):
    """What an attempt tells the target's circuit breaker."""

    SUCCESS = "success"  # the target answered
    TRANSIENT = "transient"  # no answer or a 5xx: the target looks sick


# The schedule's delays only; a timeout is not part of the next-state decision.
_DEFAULT_RETRY = RetryPolicy(DEFAULT_SCHEDULE, timeout=0.0)
DELIVERED = frozenset({AttemptOutcome.DELIVERED, AttemptOutcome.PARTIAL})
# Outcomes that another try cannot change.
HOPELESS = frozenset({AttemptOutcome.PERMANENT, AttemptOutcome.BLOCKED, AttemptOutcome.CANCELLED})


@dataclass(frozen=True)
class DeliveryRef:
    """A claimed delivery, as the next-state rule needs it."""

    id: str
    kind: DeliveryKind
    attempts: int  # attempts made before the one being judged
    max_attempts: int


@dataclass(frozen=True)
class AttemptFacts:
    """What one attempt found out, channel-neutral. `verdict` is the channel's judgement of
    the answer (delivered, partial, retryable or permanent), or `cancelled` when nothing was
    sent; `blocked` and `rate_limited` override it; `retry_after` is the platform's own wait,
    a floor for the next try."""

    verdict: AttemptOutcome
    blocked: bool = False
    rate_limited: bool = False
    retry_after: float | None = None


@dataclass(frozen=True)
class NextState:
    outcome: AttemptOutcome
    status: DeliveryStatus
    next_attempt_at: dt.datetime | None = None
    attempt: int = 0  # the number of the attempt just made (1-based)


def outcome_of(facts: AttemptFacts) -> AttemptOutcome:
    """The name an attempt is recorded under: a refused address or a "slow down" answer says
    more than the channel's verdict."""
    if facts.blocked:
        return AttemptOutcome.BLOCKED
    if facts.rate_limited:
        return AttemptOutcome.RATE_LIMITED
    return facts.verdict


def next_state(
    ref: DeliveryRef, facts: AttemptFacts, now: dt.datetime, retry: RetryPolicy | None = None
) -> NextState:
    """The delivery's status after this attempt, and when a pending one is tried again.

    Delivered (or partly) is success. Failed for good: an outcome no retry can change, a test
    send (tried once), or the last allowed attempt. Otherwise pending, due after `retry`'s wait
    for this attempt (the default schedule when the channel's policy is unknown), never before
    the platform's `retry_after`.
    """
    outcome = outcome_of(facts)
    attempt = ref.attempts + 1
    if outcome in DELIVERED:
        return NextState(outcome, DeliveryStatus.SUCCESS, None, attempt)
    if outcome in HOPELESS or ref.kind == DeliveryKind.TEST or attempt >= ref.max_attempts:
        return NextState(outcome, DeliveryStatus.FAILED, None, attempt)
    retry = retry or _DEFAULT_RETRY
    # A policy changed to fewer retries after the delivery was made: only the platform's wait.
    step = min(attempt, retry.max_attempts - 1) if retry.delays else 0
    delay = retry.delay_after(step, facts.retry_after) if step else facts.retry_after
    return NextState(
        outcome, DeliveryStatus.PENDING, now + dt.timedelta(seconds=delay or 0.0), attempt
    )


def decide_held(delivery_id: str, status: DeliveryStatus, decision: HeldDecision) -> DeliveryStatus:
    """The status a person's decision moves a held delivery to: `pending` (released: due now,
    its task's order kept) or `dropped`. Only a muted delivery can be released or dropped;
    anything else raises `Conflict` naming what it is."""
    if status != DeliveryStatus.MUTED:
        raise Conflict(
            f"delivery {delivery_id} is {status}, not muted; only a muted delivery can be "
            f"{'released' if decision == HeldDecision.RELEASE else 'dropped'}",
            {"delivery_id": delivery_id, "status": str(status)},
        )
    return DeliveryStatus.PENDING if decision == HeldDecision.RELEASE else DeliveryStatus.DROPPED
