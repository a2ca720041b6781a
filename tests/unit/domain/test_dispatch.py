"""The per-target planner: penalties, circuits, slots and digests."""

from __future__ import annotations

from herald.domain.breaker import Circuit
from herald.domain.dispatch import (
    MAX_DIGEST,
    Candidate,
    TargetPlan,
    TargetState,
    mergeable,
    plan_target,
)
from herald.domain.ratelimit import Limit

DINGTALK = [Limit(20, 60.0)]
NOW = 10_000.0


def events(n: int, prefix: str = "d") -> list[Candidate]:
    return [Candidate(f"{prefix}{i:03d}", "event") for i in range(n)]


def plan(
    state: TargetState,
    due: list[Candidate],
    backlog: list[Candidate] | None = None,
    room: int | None = None,
) -> TargetPlan:
    return plan_target(
        state,
        DINGTALK,
        due,
        due if backlog is None else backlog,
        NOW,
        digest_ok=True,
        probe_deadline=60,
        room=room,
    )


def test_within_the_limit_everything_goes_now() -> None:
    result = plan(TargetState(), events(5))
    assert len(result.send) == 5 and not result.postpone and not result.merge
    assert len(result.state.sends) == 5


def test_a_backlog_beyond_the_horizon_keeps_19_alone_and_merges_the_rest() -> None:
    due = events(300)
    result = plan(TargetState(), due)
    assert result.send == [c.id for c in due[:19]]
    assert result.merge == [c.id for c in due[19:]] and result.digest_now
    assert len(result.state.sends) == 20  # 19 alone + the digest: the window is exactly full


def test_a_full_window_postpones_to_the_next_slot_and_merges_when_the_backlog_grows() -> None:
    full = TargetState(sends=tuple(NOW - 30 + i for i in range(20)))
    waiting = plan(full, events(1))
    assert waiting.send == [] and waiting.postpone["d000"] > NOW
    many = plan(full, events(5), events(30))
    assert many.merge and not many.digest_now and many.digest_at and many.digest_at > NOW


def test_a_penalty_holds_everything_until_it_ends() -> None:
    result = plan(TargetState(penalty_until=NOW + 600), events(3))
    assert result.send == [] and set(result.postpone.values()) == {NOW + 600}


def test_an_open_circuit_waits_then_lets_exactly_one_probe_through() -> None:
    cooling = TargetState(circuit=Circuit("open", 5, 30, NOW + 20))
    assert plan(cooling, events(3)).send == []
    due = TargetState(circuit=Circuit("open", 5, 30, NOW - 1))
    result = plan(due, events(3))
    assert result.send == ["d000"] and result.state.circuit.state == "half_open"
    assert set(result.postpone) == {"d001", "d002"}


def test_without_limits_nothing_is_held_or_merged() -> None:
    result = plan_target(
        TargetState(), [], events(500), events(500), NOW, digest_ok=False, probe_deadline=60
    )
    assert len(result.send) == 500 and not result.merge


# -- room (requests in flight) and order ----------------------------------------------------


def test_room_caps_what_goes_now_and_leaves_the_rest_due() -> None:
    due = events(5)
    result = plan(TargetState(), due, room=1)
    assert result.send == ["d000"] and not result.postpone
    assert len(result.state.sends) == 1  # slots are reserved only for what is sent


def test_no_room_sends_nothing_and_postpones_nothing() -> None:
    result = plan(TargetState(), events(5), room=0)
    assert not result.send and not result.postpone and not result.merge


def test_with_one_request_of_room_the_digest_waits_for_the_individual_send() -> None:
    due = events(300)
    result = plan(TargetState(), due, room=1)
    assert result.send == ["d000"]
    assert result.merge == [c.id for c in due[19:]]
    assert not result.digest_now and result.digest_at == NOW  # due as soon as room frees


def chain(task: str, n: int, pending_before_first: int = 0) -> list[Candidate]:
    return [
        Candidate(f"{task}-{i}", "event", task, i + 1, pending_before_first + i) for i in range(n)
    ]


def test_a_digest_takes_each_task_from_its_first_pending_message_on() -> None:
    backlog = chain("t1", 3) + chain("t2", 3)
    assert [c.id for c in mergeable(backlog, kept=set())] == [c.id for c in backlog]


def test_a_digest_never_skips_a_message_sent_on_its_own() -> None:
    backlog = chain("t1", 3)
    assert mergeable(backlog, kept={"t1-0"}) == []


def test_a_digest_leaves_a_task_whose_earlier_message_is_elsewhere() -> None:
    """t1's first pending message is in flight (not in the backlog): none of t1 may join."""
    backlog = chain("t1", 2, pending_before_first=1) + chain("t2", 2)
    assert [c.id for c in mergeable(backlog, kept=set())] == ["t2-0", "t2-1"]


def test_the_digest_cap_cuts_a_task_short_but_never_opens_a_gap() -> None:
    backlog = [*chain("t1", MAX_DIGEST), *chain("t2", 3)]
    backlog = [backlog[-1], *backlog[:-1]]  # t2's last message is the oldest due
    taken = mergeable(backlog, kept=set())
    assert len(taken) <= MAX_DIGEST
    t2 = sorted(c.seq or 0 for c in taken if c.task_id == "t2")
    assert t2 == list(range(1, len(t2) + 1))
