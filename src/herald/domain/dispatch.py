"""Per-target dispatch planning: what may be sent now, what waits, what merges into a digest.

Given a target's shared state (recent sends, platform penalty, circuit) and its pending
deliveries, decide without I/O:
- a platform penalty (e.g. DingTalk's 10-minute lock after 130101) or an open circuit holds
  everything back until it ends (an open circuit lets one probe through once cooled down);
- otherwise the sliding-window limits hand out slots; deliveries whose slot is now go now, the
  others wait for their slot;
- when the backlog is larger than what the limits let through within the horizon, the oldest
  deliveries keep their own slots but the rest are merged into one digest that takes the last
  slot, instead of waiting for hours (or being dropped by the platform);
- at most `room` requests go now (the target's concurrency limit less what is in flight);
  the rest stay due for the next claim, when a request to the target has finished.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from herald.domain.breaker import Circuit
from herald.domain.delivery import DeliveryKind
from herald.domain.ratelimit import Limit, next_slot, plan, prune

DIGEST_HORIZON = 30.0  # seconds: "soon" for the digest decision
MAX_DIGEST = 500  # deliveries merged into one digest at most


@dataclass(frozen=True)
class TargetState:
    sends: tuple[float, ...] = ()
    penalty_until: float | None = None
    circuit: Circuit = field(default_factory=Circuit)


@dataclass(frozen=True)
class Candidate:
    id: str
    kind: str  # a DeliveryKind
    task_id: str | None = None
    seq: int | None = None  # the event's ordinal in its task; None: not ordered
    pending_before: int = 0  # pending deliveries of the same task to the target, lower seq


@dataclass
class TargetPlan:
    send: list[str] = field(default_factory=list)
    postpone: dict[str, float] = field(default_factory=dict)
    merge: list[str] = field(default_factory=list)  # pending event deliveries to merge
    digest_now: bool = False  # a digest of `merge` goes out now (else it waits for `digest_at`)
    digest_at: float | None = None
    state: TargetState = field(default_factory=TargetState)
    rate_limited: int = 0  # deliveries held back by the limits (for metrics)


def plan_target(
    state: TargetState,
    limits: Sequence[Limit],
    due: Sequence[Candidate],
    backlog: Sequence[Candidate],
    now: float,
    *,
    digest_ok: bool,
    probe_deadline: float,
    room: int | None = None,
) -> TargetPlan:
    """Plan for `due` (claimable now, oldest first); `backlog` is every pending delivery of the
    target that is not in flight (due or waiting), used for the digest decision. `room` caps
    the requests sent now, digest included (None: no cap)."""
    sends = tuple(prune(state.sends, limits, now))
    state = replace(state, sends=sends)
    if room is not None and room <= 0:
        return TargetPlan(state=state)
    if state.penalty_until is not None and now < state.penalty_until:
        return _hold(due, state.penalty_until, state)
    if not state.circuit.admits(now):
        return _hold(due, state.circuit.probe_at or now, state)
    if state.circuit.state != "closed":
        probe, rest = due[:1], due[1:]
        state = replace(state, circuit=state.circuit.on_probe_sent(now, probe_deadline))
        result = _slots(state, limits, probe, now)
        result.postpone.update({c.id: now + probe_deadline for c in rest})
        return result
    capacity = (
        len(plan(sends, limits, now, len(backlog), DIGEST_HORIZON)[0]) if limits else len(backlog)
    )
    if digest_ok and len(backlog) > max(capacity, 1):
        return _digest(state, limits, due, backlog, now, capacity, room)
    return _slots(state, limits, due, now, room)


def _hold(due: Sequence[Candidate], until: float, state: TargetState) -> TargetPlan:
    return TargetPlan(postpone={c.id: until for c in due}, state=state, rate_limited=len(due))


def _slots(
    state: TargetState,
    limits: Sequence[Limit],
    due: Sequence[Candidate],
    now: float,
    room: int | None = None,
) -> TargetPlan:
    """Send what the limits and `room` allow now; postpone the rest to their slots, except
    those whose slot is now but find no room: they stay due for the next claim."""
    result = TargetPlan(state=state)
    room = len(due) if room is None else room
    if not limits:
        result.send = [c.id for c in due[:room]]
        return result
    slots, _ = plan(state.sends, limits, now, len(due), horizon=float("inf"))
    for candidate, slot in zip(due, slots, strict=True):
        if slot > now:
            result.postpone[candidate.id] = slot
            result.rate_limited += 1
        elif len(result.send) < room:
            result.send.append(candidate.id)
    result.state = replace(state, sends=state.sends + tuple(now for _ in result.send))
    return result


def _digest(
    state: TargetState,
    limits: Sequence[Limit],
    due: Sequence[Candidate],
    backlog: Sequence[Candidate],
    now: float,
    capacity: int,
    room: int | None,
) -> TargetPlan:
    keep = max(capacity - 1, 0)
    individual = [c for c in due if c.kind != DeliveryKind.EVENT] + [
        c for c in due if c.kind == DeliveryKind.EVENT
    ]
    individual = individual[:keep]
    kept = {c.id for c in individual}
    result = _slots(state, limits, individual, now, room)
    result.merge = [c.id for c in mergeable(backlog, kept)]
    slot = next_slot(sorted(result.state.sends), limits, now) if limits else now
    result.digest_now = slot <= now and (room is None or len(result.send) < room)
    result.digest_at = slot
    if result.digest_now:
        result.state = replace(result.state, sends=(*result.state.sends, now))
    for c in due:
        if c.id not in kept and c.id not in result.merge and c.id not in result.postpone:
            result.postpone[c.id] = slot
    result.rate_limited += len(result.merge)
    return result


def mergeable(backlog: Sequence[Candidate], kept: set[str]) -> list[Candidate]:
    """The event deliveries of `backlog` a digest may take, at most `MAX_DIGEST`.

    Of each task's pending deliveries to the target only a run from the first one may join,
    stopping at one sent on its own (`kept`) or whose earlier pending delivery is not in the
    backlog (in flight, or in another digest): so a digest never waits for an earlier message
    of one of its tasks, and two digests can never wait for each other.
    """
    events = [c for c in backlog if c.kind == DeliveryKind.EVENT]
    taken: Counter[str] = Counter()
    blocked: set[str] = set()
    eligible: set[str] = set()
    for c in sorted(events, key=_chain_order):
        if c.task_id is None or c.seq is None:
            if c.id not in kept:
                eligible.add(c.id)
        elif c.task_id in blocked or c.id in kept or c.pending_before != taken[c.task_id]:
            blocked.add(c.task_id)
        else:
            taken[c.task_id] += 1
            eligible.add(c.id)
    capped = {c.id for c in [c for c in events if c.id in eligible][:MAX_DIGEST]}
    return _prefixes(events, capped)


def _chain_order(c: Candidate) -> tuple[str, int]:
    return (c.task_id or "", c.seq or 0)


def _prefixes(events: Sequence[Candidate], chosen: set[str]) -> list[Candidate]:
    """`events` in backlog order, minus any whose earlier delivery of the task fell outside
    `chosen` (the cap may cut a task's run short, never open a gap in it)."""
    cut: set[str] = set()
    keep: set[str] = set()
    for c in sorted(events, key=_chain_order):
        if c.task_id is None or c.seq is None:
            if c.id in chosen:
                keep.add(c.id)
        elif c.task_id not in cut and c.id in chosen:
            keep.add(c.id)
        else:
            cut.add(c.task_id)
    return [c for c in events if c.id in keep]
