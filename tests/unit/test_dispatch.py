"""The per-target planner: penalties, circuits, slots and digests."""

from __future__ import annotations

from herald.domain.breaker import Circuit
from herald.domain.dispatch import Candidate, TargetState, plan_target
from herald.domain.ratelimit import Limit

DINGTALK = [Limit(20, 60.0)]
NOW = 10_000.0


def events(n: int, prefix: str = "d") -> list[Candidate]:
    return [Candidate(f"{prefix}{i:03d}", "event") for i in range(n)]


def plan(state: TargetState, due: list[Candidate], backlog: list[Candidate] | None = None, **kw):
    return plan_target(
        state,
        DINGTALK,
        due,
        due if backlog is None else backlog,
        NOW,
        digest_ok=True,
        probe_deadline=60,
        **kw,
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
