"""The delivery state machine's one rule, `next_state`, without a database."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.domain.delivery import (
    DELIVERED,
    HOPELESS,
    AttemptFacts,
    AttemptOutcome,
    DeliveryKind,
    DeliveryRef,
    DeliveryStatus,
    next_state,
    outcome_of,
)
from herald.domain.retry import DEFAULT_SCHEDULE, MAX_RETRY_AFTER, RetryPolicy

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def ref(kind: DeliveryKind = DeliveryKind.EVENT, attempts: int = 0, most: int = 9) -> DeliveryRef:
    return DeliveryRef("d1", kind, attempts, most)


def seconds_until(moment: dt.datetime | None) -> float:
    assert moment is not None
    return (moment - NOW).total_seconds()


class TestNames:
    def test_stored_values_and_json_are_unchanged(self) -> None:
        assert [s.value for s in DeliveryStatus] == [
            "pending",
            "success",
            "failed",
            "muted",
            "dropped",
        ]
        assert [k.value for k in DeliveryKind] == ["event", "digest", "test"]
        assert json.dumps({"status": DeliveryStatus.FAILED}) == '{"status": "failed"}'
        assert DeliveryStatus("pending") is DeliveryStatus.PENDING

    def test_a_refused_address_outranks_a_slow_down_which_outranks_the_verdict(self) -> None:
        every = AttemptFacts(AttemptOutcome.DELIVERED, blocked=True, rate_limited=True)
        assert outcome_of(every) is AttemptOutcome.BLOCKED
        slow = AttemptFacts(AttemptOutcome.RETRYABLE, rate_limited=True)
        assert outcome_of(slow) is AttemptOutcome.RATE_LIMITED
        assert outcome_of(AttemptFacts(AttemptOutcome.PARTIAL)) is AttemptOutcome.PARTIAL


class TestNextState:
    @pytest.mark.parametrize("verdict", sorted(DELIVERED))
    def test_delivered_or_partly_is_success(self, verdict: AttemptOutcome) -> None:
        state = next_state(ref(attempts=3), AttemptFacts(verdict), NOW)
        assert (state.status, state.next_attempt_at, state.attempt) == (
            DeliveryStatus.SUCCESS,
            None,
            4,
        )
        assert state.outcome is verdict

    @pytest.mark.parametrize("verdict", sorted(HOPELESS))
    def test_an_outcome_no_retry_can_change_fails_at_once(self, verdict: AttemptOutcome) -> None:
        state = next_state(ref(), AttemptFacts(verdict), NOW)
        assert (state.status, state.next_attempt_at) == (DeliveryStatus.FAILED, None)

    def test_the_egress_guard_refusing_fails_for_good(self) -> None:
        state = next_state(ref(), AttemptFacts(AttemptOutcome.RETRYABLE, blocked=True), NOW)
        assert (state.outcome, state.status) == (AttemptOutcome.BLOCKED, DeliveryStatus.FAILED)

    def test_a_test_send_is_tried_once(self) -> None:
        state = next_state(
            ref(DeliveryKind.TEST, most=5), AttemptFacts(AttemptOutcome.RETRYABLE), NOW
        )
        assert state.status is DeliveryStatus.FAILED

    def test_the_last_allowed_attempt_fails(self) -> None:
        state = next_state(ref(attempts=8, most=9), AttemptFacts(AttemptOutcome.RETRYABLE), NOW)
        assert (state.status, state.attempt) == (DeliveryStatus.FAILED, 9)

    def test_a_resend_that_fails_stays_failed(self) -> None:
        # A resend allows exactly one more attempt (max_attempts = attempts + 1).
        state = next_state(ref(attempts=9, most=10), AttemptFacts(AttemptOutcome.RETRYABLE), NOW)
        assert state.status is DeliveryStatus.FAILED

    def test_a_blip_is_retried_on_the_default_schedule_without_a_policy(self) -> None:
        state = next_state(ref(attempts=1), AttemptFacts(AttemptOutcome.RETRYABLE), NOW)
        assert state.status is DeliveryStatus.PENDING
        base = DEFAULT_SCHEDULE[1]  # after the second attempt
        assert base <= seconds_until(state.next_attempt_at) <= base * 1.1

    def test_the_channel_policy_sets_the_wait(self) -> None:
        policy = RetryPolicy.exponential(retries=3, interval=7, timeout=5)
        state = next_state(ref(most=4), AttemptFacts(AttemptOutcome.RETRYABLE), NOW, policy)
        assert 7 <= seconds_until(state.next_attempt_at) <= 7.7

    def test_a_rate_limited_answer_waits_at_least_retry_after_capped_at_an_hour(self) -> None:
        slow = AttemptFacts(AttemptOutcome.RETRYABLE, rate_limited=True, retry_after=600)
        state = next_state(ref(), slow, NOW)
        assert (state.outcome, state.status) == (
            AttemptOutcome.RATE_LIMITED,
            DeliveryStatus.PENDING,
        )
        assert seconds_until(state.next_attempt_at) == 600
        hostile = AttemptFacts(AttemptOutcome.RETRYABLE, retry_after=10**9)
        assert seconds_until(next_state(ref(), hostile, NOW).next_attempt_at) == MAX_RETRY_AFTER

    def test_a_policy_left_without_retries_still_honours_the_platforms_wait(self) -> None:
        # The channel's retries went to 0 after the delivery was made with more attempts.
        none = RetryPolicy.exponential(retries=0, interval=5, timeout=5)
        wait = AttemptFacts(AttemptOutcome.RETRYABLE, retry_after=42)
        assert seconds_until(next_state(ref(most=4), wait, NOW, none).next_attempt_at) == 42
        bare = next_state(ref(most=4), AttemptFacts(AttemptOutcome.RETRYABLE), NOW, none)
        assert seconds_until(bare.next_attempt_at) == 0

    @given(
        attempts=st.integers(0, 30),
        most=st.integers(1, 31),
        verdict=st.sampled_from(list(AttemptOutcome)),
        retry_after=st.none() | st.floats(0, 10**7),
    )
    def test_retries_never_fire_early_and_pending_only_below_the_limit(
        self, attempts: int, most: int, verdict: AttemptOutcome, retry_after: float | None
    ) -> None:
        facts = AttemptFacts(verdict, retry_after=retry_after)
        state = next_state(ref(attempts=attempts, most=most), facts, NOW)
        assert state.attempt == attempts + 1
        if state.status is DeliveryStatus.PENDING:
            assert state.attempt < most
            assert state.next_attempt_at is not None and state.next_attempt_at >= NOW
            if retry_after is not None:
                assert seconds_until(state.next_attempt_at) >= min(retry_after, MAX_RETRY_AFTER)
        else:
            assert state.next_attempt_at is None
