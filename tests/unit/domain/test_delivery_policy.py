"""Pure delivery policy: retry schedules, sliding-window limits, circuit breaking, filters."""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.domain.breaker import FIRST_COOLDOWN, OPEN_AFTER, Circuit
from herald.domain.ratelimit import WINDOW_MARGIN, Limit, next_slot, plan, prune
from herald.domain.retry import MAX_RETRY_AFTER, RetryPolicy
from herald.domain.subscriptions import Filters, subscribed

DINGTALK = [Limit(20, 60.0)]
FEISHU = [Limit(5, 1.0), Limit(100, 60.0)]


class TestRetry:
    def test_custom_policy_is_exponential_from_the_interval(self) -> None:
        policy = RetryPolicy.exponential(retries=3, interval=5, timeout=10)
        assert policy.max_attempts == 4
        assert [policy.delay_after(n, rand=lambda: 0.0) for n in (1, 2, 3, 4)] == [5, 10, 20, None]

    def test_jitter_only_adds(self) -> None:
        policy = RetryPolicy.exponential(retries=1, interval=100, timeout=10)
        assert policy.delay_after(1, rand=lambda: 0.999) == pytest.approx(109.99)
        assert policy.delay_after(1, rand=lambda: 0.0) == 100

    def test_retry_after_is_a_capped_floor(self) -> None:
        policy = RetryPolicy.exponential(retries=2, interval=5, timeout=10)
        assert policy.delay_after(1, retry_after=60, rand=lambda: 0) == 60
        assert policy.delay_after(1, retry_after=1, rand=lambda: 0) == 5
        assert policy.delay_after(1, retry_after=10**9, rand=lambda: 0) == MAX_RETRY_AFTER

    def test_zero_retries_gives_up_after_the_first_attempt(self) -> None:
        assert RetryPolicy.exponential(0, 5, 10).delay_after(1) is None

    def test_default_schedule_starts_within_seconds(self) -> None:
        policy = RetryPolicy.default(timeout=10)
        assert policy.delay_after(1, rand=lambda: 0) == 5
        assert policy.max_attempts == 9


class TestSlidingWindow:
    def test_empty_window_allows_a_burst_up_to_the_limit(self) -> None:
        slots, n = plan([], DINGTALK, now=1000.0, wanted=25, horizon=30)
        assert n == 20 and slots == [1000.0] * 20

    def test_full_window_waits_for_the_oldest_send_to_leave(self) -> None:
        sends = [1000.0 + i for i in range(20)]
        assert next_slot(sends, DINGTALK, 1030.0) == pytest.approx(
            1000.0 + 60 + WINDOW_MARGIN, abs=0.01
        )

    def test_both_feishu_limits_apply(self) -> None:
        slots, n = plan([], FEISHU, now=0.0, wanted=12, horizon=10)
        assert n == 12
        assert slots[:5] == [0.0] * 5
        assert slots[5] == pytest.approx(1.0 + WINDOW_MARGIN, abs=0.01)

    @given(st.lists(st.floats(0, 300), max_size=60), st.floats(0, 300))
    def test_planned_slots_never_exceed_any_limit(self, history: list[float], now: float) -> None:
        sends = prune(sorted(t for t in history if t <= now), FEISHU, now)
        slots, _ = plan(sends, FEISHU, now, wanted=30, horizon=120)
        booked = sorted(sends + slots)
        for limit in FEISHU:
            window = limit.per_seconds + WINDOW_MARGIN
            for t in slots:
                in_window = [s for s in booked if t - window < s <= t]
                assert len(in_window) <= limit.count

    def test_prune_keeps_only_what_matters(self) -> None:
        assert prune([1.0, 50.0, 100.0], DINGTALK, now=110.0) == [50.0, 100.0]


class TestCircuit:
    def test_opens_after_consecutive_transient_failures_and_probes(self) -> None:
        circuit = Circuit()
        for i in range(OPEN_AFTER - 1):
            circuit = circuit.on_transient_failure(now=float(i))
            assert circuit.state == "closed"
        circuit = circuit.on_transient_failure(now=10.0)
        assert circuit.state == "open" and circuit.probe_at == 10.0 + FIRST_COOLDOWN
        assert not circuit.admits(20.0)
        assert circuit.admits(40.0)
        probing = circuit.on_probe_sent(now=40.0, deadline=30)
        assert probing.state == "half_open" and not probing.admits(41.0)
        reopened = probing.on_transient_failure(now=45.0)
        assert reopened.state == "open" and reopened.cooldown == 2 * FIRST_COOLDOWN
        assert probing.on_success() == Circuit()

    def test_a_lost_probe_is_retried_after_its_deadline(self) -> None:
        probing = Circuit("open", 5, 30, 0.0).on_probe_sent(now=0.0, deadline=30)
        assert not probing.admits(29.0) and probing.admits(30.0)


class TestSubscriptions:
    PAYLOAD: ClassVar[dict[str, object]] = {
        "event_type": "full_completed",
        "environment": "production",
        "task": {"type": "deploy", "strategy": "canary"},
    }

    def test_event_must_be_subscribed_and_config_enabled(self) -> None:
        assert subscribed(True, ["full_completed"], Filters(), self.PAYLOAD)
        assert not subscribed(False, ["full_completed"], Filters(), self.PAYLOAD)
        assert not subscribed(True, ["canary_started"], Filters(), self.PAYLOAD)

    def test_filters(self) -> None:
        assert Filters(environments=("production",)).matches(self.PAYLOAD)
        assert not Filters(environments=("staging",)).matches(self.PAYLOAD)
        assert not Filters(task_types=("rollback",)).matches(self.PAYLOAD)
        assert Filters(strategies=("canary", "rolling")).matches(self.PAYLOAD)
        assert Filters.from_json(Filters(task_types=("deploy",)).to_json()) == Filters(
            task_types=("deploy",)
        )
